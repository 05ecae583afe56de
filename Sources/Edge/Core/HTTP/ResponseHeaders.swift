import NIOCore

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

/// A response status code with its reason phrase.
public struct HTTPStatus: Hashable, Sendable {
    public var code: Int
    public var reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let partialContent = HTTPStatus(code: 206, reason: "Partial Content")
    public static let movedPermanently = HTTPStatus(code: 301, reason: "Moved Permanently")
    public static let notModified = HTTPStatus(code: 304, reason: "Not Modified")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(code: 408, reason: "Request Timeout")
    public static let preconditionFailed = HTTPStatus(code: 412, reason: "Precondition Failed")
    public static let uriTooLong = HTTPStatus(code: 414, reason: "URI Too Long")
    public static let rangeNotSatisfiable = HTTPStatus(code: 416, reason: "Range Not Satisfiable")
    public static let headersTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    public static let versionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")
}
