import HTTPTypes
import NIOCore
import Shared

/// Encodes an app's `HTTPResponse` and body pieces as HTTP/1.1 bytes, choosing the framing: the app's
/// `Content-Length` when given, chunked otherwise (close-delimited for HTTP/1.0 clients).
struct ResponseEncoder {
    enum Framing { case length, chunked, untilClose, none }

    private(set) var framing: Framing = .length
    /// Body bytes the announced `Content-Length` still allows (framing `.length`). An app that writes more has the
    /// rest dropped, as gunicorn does: passed on, those bytes would be read as the start of the next response.
    private(set) var remainingLength: Int?

    /// Bytes the body still owes its `Content-Length` once the app has finished: a client would wait for them, so
    /// the connection must close after such a response.
    var shortfall: Int { framing == .length ? remainingLength ?? 0 : 0 }

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
        var appLength: Int?, lengthNeedsRewrite = false, hasServer = false, hasDate = false
        for field in fields {
            switch field.name {
            case .contentLength:
                if let value = Int(field.value), value >= 0, appLength == nil || appLength == value {
                    appLength = value
                } else {
                    lengthNeedsRewrite = true  // not a number, or two that disagree
                }
            case .server: hasServer = true
            case .date: hasDate = true
            default: break
            }
        }
        let hasLength = appLength != nil
        let addLength =
            !hasLength && bodyLength != nil && !(100..<200).contains(status) && status != 204 && status != 304
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
            // A `Content-Length` the app got wrong is replaced by the number read (or, if none was, by AppServer's
            // own framing); checked only then, as it costs a comparison per field.
            if lengthNeedsRewrite && field.name == .contentLength { continue }
            bytes.append(string: field.name.rawName)
            bytes.append(": ")
            bytes.append(string: field.value)
            bytes.append("\r\n")
        }
        if framing == .chunked { bytes.append("Transfer-Encoding: chunked\r\n") }
        if let length = addLength ? bodyLength : lengthNeedsRewrite ? appLength : nil {
            bytes.append("Content-Length: ")
            bytes.append(decimal: length)
            bytes.append("\r\n")
        }
        remainingLength = framing == .length ? appLength ?? bodyLength : nil
        if !keepAlive {
            bytes.append("Connection: close\r\n")
        } else if minorVersion == 0 {
            bytes.append("Connection: keep-alive\r\n")
        }
        bytes.append("\r\n")
        buffer.writeHead(bytes)
        return status
    }

    /// A body piece in the chosen framing (nothing for bodyless responses). Returns the bytes dropped for going past
    /// `Content-Length`.
    @discardableResult
    mutating func encodeBody(_ body: ByteBuffer, into buffer: inout ByteBuffer) -> Int {
        guard body.readableBytes > 0 else { return 0 }
        switch framing {
        case .none: return 0
        case .length:
            let remaining = remainingLength ?? body.readableBytes
            guard body.readableBytes > remaining else {
                remainingLength = remaining - body.readableBytes
                buffer.writeImmutableBuffer(body)
                return 0
            }
            remainingLength = 0
            buffer.writeImmutableBuffer(body.getSlice(at: body.readerIndex, length: remaining)!)
            return body.readableBytes - remaining
        case .untilClose:
            var body = body
            buffer.writeBuffer(&body)
        case .chunked:
            buffer.writeString(String(body.readableBytes, radix: 16))
            buffer.writeStaticString("\r\n")
            var body = body
            buffer.writeBuffer(&body)
            buffer.writeStaticString("\r\n")
        }
        return 0
    }

    /// The end of the body: the last chunk for chunked responses.
    func encodeEnd(into buffer: inout ByteBuffer) {
        if framing == .chunked { buffer.writeStaticString("0\r\n\r\n") }
    }
}
