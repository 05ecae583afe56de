import NIOCore
import NIOHTTP1

/// An incremental HTTP/1.0 and HTTP/1.1 request parser (RFC 9112): bytes in, `head` / `body` / `end` events out.
///
/// Edge parses requests itself rather than through `HTTPRequestDecoder` because the request path is the hot path:
/// heads are parsed in one pass over contiguous bytes, header fields stay as ranges (no `String` per header), and
/// the limits are exact — a long target is 414, large header fields are 431, decided while the bytes arrive.
/// Framing follows the RFC's anti-smuggling rules: `Content-Length` with `Transfer-Encoding` is refused, as are
/// conflicting lengths, transfer codings other than `chunked`, and obsolete line folding.
public struct HTTP1RequestParser {
    /// The limits a head must respect.
    public struct Limits: Sendable {
        public var maxURILength: Int
        public var maxHeaderSize: Int
        /// More header fields than this are refused with 431 (gunicorn's `limit_request_fields`); `nil`: no limit.
        public var maxHeaderCount: Int?

        public init(maxURILength: Int, maxHeaderSize: Int, maxHeaderCount: Int? = nil) {
            self.maxURILength = maxURILength
            self.maxHeaderSize = maxHeaderSize
            self.maxHeaderCount = maxHeaderCount
        }
    }

    /// What the parser found.
    public enum Event: Sendable {
        case head(RequestHead)
        case body(ByteBuffer)
        case end
    }

    enum State: Equatable {
        case head
        case body(HTTP1BodyReader)
        case failed
    }

    private(set) var state: State = .head
    /// Bytes of the head that failed to parse still in `buffer` (0 unless a head failed).
    private var failedHeadLength = 0
    private(set) var buffer = ByteBuffer()
    /// How far the pending head has been searched for its terminating blank line, so slow clients cost O(n).
    private var headScanOffset = 0
    let limits: Limits

    /// A parser enforcing `limits`.
    public init(limits: Limits) {
        self.limits = limits
    }

    /// Adds received bytes. The common case (nothing left over) keeps the buffer without copying.
    public mutating func append(_ bytes: ByteBuffer) {
        buffer.appendAdopting(bytes)
    }

    /// The bytes received but not parsed, handed over when the connection stops speaking HTTP (an upgrade).
    public mutating func takeUnparsedBytes() -> ByteBuffer {
        defer { buffer = ByteBuffer() }
        return buffer
    }

    /// Whether part of a request head has arrived and the rest is awaited (header timeout territory).
    public var hasPartialHead: Bool { state == .head && buffer.readableBytes > 0 }

    /// The next event, `nil` when more bytes are needed. After an error the parser stays failed.
    public mutating func next() throws(HTTP1ParseError) -> Event? {
        do {
            return try nextEvent()
        } catch {
            if case .head = state { failedHeadLength = buffer.readableBytes }
            state = .failed
            throw error
        }
    }

    /// After a head was refused: its request line, when that line itself was sound (the fault was in a header field
    /// or the framing). The access log shows it, as nginx shows `$request` for a request it refused with 400.
    public func refusedRequestLine() -> (method: String, target: String, version: String)? {
        guard state == .failed, failedHeadLength > 0 else { return nil }
        return buffer.withUnsafeReadableBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw.prefix(failedHeadLength))
            guard let lineEnd = HTTP1Scanning.index(of: UInt8(ascii: "\n"), in: bytes, from: 0),
                let (method, target, minorVersion) = try? Self.parseRequestLine(
                    HTTP1Scanning.trimCR(UnsafeRawBufferPointer(rebasing: bytes[0..<lineEnd])), maxURILength: .max)
            else { return nil }
            return (method.rawValue, target, "HTTP/1.\(minorVersion)")
        }
    }

    private mutating func nextEvent() throws(HTTP1ParseError) -> Event? {
        switch state {
        case .failed:
            return nil
        case .head:
            skipLeadingEmptyLines()
            guard let headLength = findHeadEnd() else {
                try checkPartialHeadLimits()
                return nil
            }
            let head = try parseHead(length: headLength)
            buffer.moveReaderIndex(forwardBy: headLength)
            headScanOffset = 0
            state = .body(HTTP1BodyReader(head.bodyFraming))
            releaseBufferIfEmpty()
            return .head(head)
        case .body(var reader):
            let event = try reader.next(from: &buffer, maxTrailerSize: limits.maxHeaderSize)
            releaseBufferIfEmpty()
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

    private mutating func releaseBufferIfEmpty() {
        // Dropping the reference lets the next read's buffer be adopted without a copy.
        if buffer.readableBytes == 0 { buffer = ByteBuffer() }
    }

    /// RFC 9112 §2.2: a server should ignore empty lines received before the request line.
    private mutating func skipLeadingEmptyLines() {
        guard headScanOffset == 0 else { return }
        while let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
            if first == UInt8(ascii: "\n") {
                buffer.moveReaderIndex(forwardBy: 1)
            } else if first == UInt8(ascii: "\r"),
                buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == UInt8(ascii: "\n")
            {
                buffer.moveReaderIndex(forwardBy: 2)
            } else {
                return
            }
        }
    }

    /// Length of the head including its blank line, once it has fully arrived.
    private mutating func findHeadEnd() -> Int? {
        let start = headScanOffset
        let found = buffer.withUnsafeReadableBytes { HTTP1Scanning.headLength(in: $0, from: start) }
        if found == nil { headScanOffset = max(0, buffer.readableBytes - 2) }
        return found
    }

    private func checkPartialHeadLimits() throws(HTTP1ParseError) {
        // Refuse binary garbage (a TLS ClientHello sent to a plain port, say) at once instead of waiting for a
        // line end that never comes: a request starts with a method token.
        let methodIsValid = buffer.withUnsafeReadableBytes { raw in
            for byte in raw.prefix(32) {
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { return true }
                if !ASCII.isTokenByte(byte) { return false }
            }
            return raw.count <= 32
        }
        guard methodIsValid else { throw .malformed("invalid method") }
        let pending = buffer.readableBytes
        guard pending > limits.maxURILength + 32 else { return }
        let requestLineDone = buffer.withUnsafeReadableBytes {
            HTTP1Scanning.index(of: UInt8(ascii: "\n"), in: $0, from: 0) != nil
        }
        if !requestLineDone { throw .uriTooLong }
        if pending > limits.maxURILength + limits.maxHeaderSize + 32 { throw .headersTooLarge }
    }
}
