import HTTPTypes
import NIOCore
import Shared

/// Encodes an app's `HTTPResponse` and body pieces as HTTP/1.1 bytes, choosing the framing: the app's
/// `Content-Length` when given, chunked otherwise (close-delimited for HTTP/1.0 clients).
struct ResponseEncoder {
    enum Framing { case length, chunked, untilClose, none }

    private(set) var framing: Framing = .length

    /// The head bytes; `keepAlive` false adds `Connection: close`. Returns the status code, for the access log.
    ///
    /// The app's fields are written as they are, skipping the ones this encoder owns, rather than copied and
    /// edited: mutating `HTTPFields` copies its storage, an allocation per response.
    @discardableResult
    mutating func encodeHead(
        _ response: HTTPResponse, isHead: Bool, minorVersion: Int, keepAlive: inout Bool, date: ByteBuffer,
        bodyLength: Int? = nil, into buffer: inout ByteBuffer
    ) -> Int {
        let fields = response.headerFields
        // Read once: swift-http-types keeps the status as its header-field text and parses it on every read.
        let responseStatus = response.status
        let status = responseStatus.code
        let bodyless = isHead || status == 204 || status == 304 || (100..<200).contains(status)
        var hasLength = false, hasServer = false, hasDate = false
        for field in fields {
            switch field.name {
            case .contentLength: hasLength = true
            case .server: hasServer = true
            case .date: hasDate = true
            default: break
            }
        }
        let addLength = !hasLength && bodyLength != nil && !(100..<200).contains(status) && status != 204 && status != 304
        if hasLength || addLength || bodyless {
            framing = bodyless ? .none : .length
        } else if minorVersion == 1 {
            framing = .chunked
        } else {
            framing = .untilClose
            keepAlive = false
        }
        // Gathered in `HeadBytes` and written once: a dozen `ByteBuffer` writes cost more than the rest of the head.
        var bytes = HeadBytes(capacity: 256)
        if status == 200 {
            bytes.append("HTTP/1.1 200 OK\r\n")
        } else {
            bytes.append("HTTP/1.1 ")
            bytes.append(decimal: status)
            bytes.append(" ")
            bytes.append(string: responseStatus.reasonPhrase)
            bytes.append("\r\n")
        }
        if !hasServer { bytes.append("Server: appserver\r\n") }
        if !hasDate { bytes.append(date) }
        for field in fields where field.name != .connection && field.name != .transferEncoding {
            bytes.append(string: field.name.rawName)
            bytes.append(": ")
            bytes.append(string: field.value)
            bytes.append("\r\n")
        }
        if framing == .chunked { bytes.append("Transfer-Encoding: chunked\r\n") }
        if addLength, let bodyLength {
            bytes.append("Content-Length: ")
            bytes.append(decimal: bodyLength)
            bytes.append("\r\n")
        }
        if !keepAlive {
            bytes.append("Connection: close\r\n")
        } else if minorVersion == 0 {
            bytes.append("Connection: keep-alive\r\n")
        }
        bytes.append("\r\n")
        buffer.writeHead(bytes)
        return status
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
