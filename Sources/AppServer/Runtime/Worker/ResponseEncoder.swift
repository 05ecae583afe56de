import HTTPTypes
import NIOCore
import Shared

/// Encodes an app's `HTTPResponse` and body pieces as HTTP/1.1 bytes, choosing the framing: the app's
/// `Content-Length` when given, chunked otherwise (close-delimited for HTTP/1.0 clients).
struct ResponseEncoder {
    enum Framing { case length, chunked, untilClose, none }

    private(set) var framing: Framing = .length

    /// The head bytes; `keepAlive` false adds `Connection: close`.
    mutating func encodeHead(
        _ response: HTTPResponse, isHead: Bool, minorVersion: Int, keepAlive: inout Bool, date: ByteBuffer,
        into buffer: inout ByteBuffer
    ) {
        var fields = response.headerFields
        let status = response.status.code
        let bodyless = isHead || status == 204 || status == 304 || (100..<200).contains(status)
        if fields[.contentLength] != nil || bodyless {
            framing = bodyless ? .none : .length
        } else if minorVersion == 1 {
            framing = .chunked
            fields[.transferEncoding] = "chunked"
        } else {
            framing = .untilClose
            keepAlive = false
        }
        if isHead, fields[.contentLength] == nil, framing == .none { /* HEAD: length unknown, none sent */ }
        fields[.connection] = nil
        if status == 200 {
            buffer.writeStaticString("HTTP/1.1 200 OK\r\n")
        } else {
            buffer.writeString("HTTP/1.1 \(status) \(response.status.reasonPhrase)\r\n")
        }
        if fields[.server] == nil { buffer.writeStaticString("Server: appserver\r\n") }
        if fields[.date] == nil { buffer.writeImmutableBuffer(date) }
        for field in fields {
            buffer.writeString(field.name.rawName)
            buffer.writeStaticString(": ")
            buffer.writeString(field.value)
            buffer.writeStaticString("\r\n")
        }
        if !keepAlive {
            buffer.writeStaticString("Connection: close\r\n")
        } else if minorVersion == 0 {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// A body piece in the chosen framing (nothing for bodyless responses).
    func encodeBody(_ body: ByteBuffer, into buffer: inout ByteBuffer) {
        guard body.readableBytes > 0 else { return }
        switch framing {
        case .none: return
        case .length, .untilClose:
            var body = body
            buffer.writeBuffer(&body)
        case .chunked:
            buffer.writeString(String(body.readableBytes, radix: 16))
            buffer.writeStaticString("\r\n")
            var body = body
            buffer.writeBuffer(&body)
            buffer.writeStaticString("\r\n")
        }
    }

    /// The end of the body: the last chunk for chunked responses.
    func encodeEnd(into buffer: inout ByteBuffer) {
        if framing == .chunked { buffer.writeStaticString("0\r\n\r\n") }
    }
}
