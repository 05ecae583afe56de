import NIOCore

/// An incremental HTTP/1 response parser for Edge's upstream connections: bytes in, `head` / `body` / `end` out.
///
/// It shares the request parser's pieces (head search, field parsing, body framing), so an upstream response
/// costs one pass over contiguous bytes and no `String` per header. Interim responses (1xx other than 101) are
/// read and dropped: Edge answers `Expect: 100-continue` itself and does not relay early hints.
public struct HTTP1ResponseParser {
    /// What the parser found.
    public enum Event: Sendable {
        case head(ResponseHead)
        case body(ByteBuffer)
        case end
    }

    private enum State {
        case head
        case body(HTTP1BodyReader)
        case failed
    }

    private var state = State.head
    private var buffer = ByteBuffer()
    private var headScanOffset = 0
    private var respondingToHEAD = false
    /// A head longer than this is refused (nginx's `proxy_buffer_size` plays this part, much smaller).
    let maxHeadSize: Int

    public init(maxHeadSize: Int = 64 * 1024) {
        self.maxHeadSize = maxHeadSize
    }

    /// Said in the upstream's terms: the request error's text would name `max_header_size`, a client limit.
    private var headTooLarge: HTTP1ParseError { .malformed("response head larger than \(maxHeadSize) bytes") }

    /// Tells the parser which request the next response answers: a response to HEAD has no body whatever its
    /// fields announce (RFC 9112 §6.3).
    public mutating func expectResponse(toHEAD: Bool) {
        respondingToHEAD = toHEAD
    }

    /// Adds received bytes, adopting the buffer without a copy when nothing is left over.
    public mutating func append(_ bytes: ByteBuffer) {
        buffer.appendAdopting(bytes)
    }

    /// Bytes received and not yet parsed. Right after a final response's `end` there must be none: Edge sends one
    /// request at a time, so anything more is an upstream that sent past its own framing.
    public var unparsedByteCount: Int { buffer.readableBytes }

    /// The bytes received but not parsed (those following a 101 belong to the new protocol).
    public mutating func takeUnparsedBytes() -> ByteBuffer {
        defer { buffer = ByteBuffer() }
        return buffer
    }

    /// The next event, `nil` when more bytes are needed. After an error the parser stays failed.
    public mutating func next() throws(HTTP1ParseError) -> Event? {
        do {
            return try nextEvent()
        } catch {
            state = .failed
            throw error
        }
    }

    /// The connection closed: the end of a body delimited by the close, or an error if a response was cut short.
    public mutating func connectionClosed() throws(HTTP1ParseError) -> Event? {
        switch state {
        case .body(let reader) where reader.endsAtClose:
            state = .head
            return .end
        case .head where buffer.readableBytes == 0, .failed:
            return nil
        default:
            state = .failed
            throw .malformed("connection closed in the middle of a response")
        }
    }

    private mutating func nextEvent() throws(HTTP1ParseError) -> Event? {
        while true {
            switch state {
            case .failed:
                return nil
            case .head:
                let start = headScanOffset
                guard let length = buffer.withUnsafeReadableBytes({ HTTP1Scanning.headLength(in: $0, from: start) })
                else {
                    headScanOffset = max(0, buffer.readableBytes - 2)
                    if buffer.readableBytes > maxHeadSize { throw headTooLarge }
                    return nil
                }
                guard length <= maxHeadSize else { throw headTooLarge }
                let head = try parseHead(length: length)
                buffer.moveReaderIndex(forwardBy: length)
                headScanOffset = 0
                if (100..<200).contains(head.status) && head.status != 101 { continue }  // interim: dropped
                state = .body(HTTP1BodyReader(head.bodyFraming))
                return .head(head)
            case .body(var reader):
                let event: HTTP1BodyReader.Event?
                do {
                    event = try reader.next(from: &buffer, maxTrailerSize: maxHeadSize)
                } catch .headersTooLarge {
                    throw .malformed("response trailers larger than \(maxHeadSize) bytes")
                }
                switch event {
                case .body(let piece):
                    state = .body(reader)
                    return .body(piece)
                case .end:
                    state = .head
                    return .end
                case nil:
                    state = .body(reader)
                    return nil
                }
            }
        }
    }

    private func parseHead(length: Int) throws(HTTP1ParseError) -> ResponseHead {
        try buffer.withUnsafeReadableBytes { raw throws(HTTP1ParseError) -> ResponseHead in
            let head = UnsafeRawBufferPointer(rebasing: raw[0..<length])
            guard let lineEnd = head.firstIndex(of: UInt8(ascii: "\n")) else { throw .malformed("no status line") }
            let statusLine = HTTP1Scanning.trimCR(UnsafeRawBufferPointer(rebasing: head[0..<lineEnd]))
            // "HTTP/1.x SSS reason": the version, one space, three digits, then a space and the reason, or nothing.
            guard statusLine.count >= 12, statusLine[8] == UInt8(ascii: " "),
                statusLine.count == 12 || statusLine[12] == UInt8(ascii: " ")
            else { throw .malformed("malformed status line") }
            let minorVersion = try HTTP1RequestParser.parseVersion(UnsafeRawBufferPointer(rebasing: statusLine[0..<8]))
            var status = 0
            for byte in statusLine[9..<12] {
                guard byte &- UInt8(ascii: "0") < 10 else { throw .malformed("malformed status code") }
                status = status * 10 + Int(byte - UInt8(ascii: "0"))
            }
            guard status >= 100 else { throw .malformed("malformed status code") }

            let section = HTTP1Scanning.fieldSection(ofHeadLength: length, startLineEnd: lineEnd, in: head)
            var scan = FieldScan()
            let fields = try HTTP1Fields.parse(UnsafeRawBufferPointer(rebasing: head[section]), into: &scan)
            let bodyless = respondingToHEAD || status < 200 || status == 204 || status == 304
            let framing = bodyless ? BodyFraming.none : try scan.responseFraming()
            let keepAlive =
                framing != .untilClose && !scan.connectionClose && (minorVersion == 1 || scan.connectionKeepAlive)
            let reasonStart = min(13, statusLine.count)
            return ResponseHead(
                status: status,
                reason: buffer.getSlice(at: buffer.readerIndex + reasonStart, length: statusLine.count - reasonStart)!,
                minorVersion: minorVersion,
                headers: HeaderFields(
                    bytes: buffer.getSlice(at: buffer.readerIndex + section.lowerBound, length: section.count)!,
                    fields: fields),
                keepAlive: keepAlive, bodyFraming: framing, connectionOptions: scan.connectionOptions)
        }
    }
}
