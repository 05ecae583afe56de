import NIOCore
import Shared

/// Writes HTTP/1.1 status lines and header lines straight into a `ByteBuffer`.
///
/// Responses are encoded by hand rather than through `HTTPResponseEncoder` so that a cached file's head can be
/// encoded once and reused; every helper writes complete `Name: value\r\n` lines.
public enum ResponseHeaders {
    /// The `Server` header value.
    public static let serverName = "edge"

    /// `HTTP/1.1 <code> <reason>\r\n`.
    public static func writeStatusLine(_ status: HTTPStatus, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeString(String(status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(status.reason)
        buffer.writeStaticString("\r\n")
    }

    /// `name: value\r\n`.
    public static func write(_ name: StaticString, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }

    /// The headers every file response carries (200, 206 and, without the length, 304).
    public static func writeFileHeaders(
        into buffer: inout ByteBuffer, contentType: String, contentLength: Int?, validators: Validators,
        cacheControl: String?
    ) {
        buffer.writeStaticString("Server: edge\r\n")
        write("Content-Type", contentType, into: &buffer)
        if let contentLength { write("Content-Length", String(contentLength), into: &buffer) }
        write("Last-Modified", HTTPDate.format(validators.lastModified), into: &buffer)
        write("ETag", validators.etag, into: &buffer)
        buffer.writeStaticString("Accept-Ranges: bytes\r\n")
        if let cacheControl { write("Cache-Control", cacheControl, into: &buffer) }
    }
}
