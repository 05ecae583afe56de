import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
        case endPending
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytesSeen: Int)
        case failed
    }

    private(set) var state: State = .head
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
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            var bytes = bytes
            if buffer.readerIndex > 0 { buffer.discardReadBytes() }
            buffer.writeBuffer(&bytes)
        }
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
            state = .failed
            throw error
        }
    }

    private mutating func nextEvent() throws(HTTP1ParseError) -> Event? {
        while true {
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
                switch head.bodyFraming {
                case .none, .length(0): state = .endPending
                case .length(let length): state = .fixedBody(remaining: length)
                case .chunked: state = .chunkSize
                }
                releaseBufferIfEmpty()
                return .head(head)
            case .endPending:
                state = .head
                return .end
            case .fixedBody(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state = remaining == slice.readableBytes ? .endPending : .fixedBody(remaining: remaining - slice.readableBytes)
                releaseBufferIfEmpty()
                return .body(slice)
            case .chunkSize:
                guard let line = try readLine(maxLength: 1024, what: "chunk size line") else { return nil }
                let size = try Self.parseChunkSize(line)
                state = size == 0 ? .trailers(bytesSeen: 0) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state = remaining == slice.readableBytes ? .chunkDataEnd : .chunkData(remaining: remaining - slice.readableBytes)
                releaseBufferIfEmpty()
                return .body(slice)
            case .chunkDataEnd:
                guard let line = try readLine(maxLength: 2, what: "chunk end") else { return nil }
                guard line.isEmpty else { throw .malformed("chunk data longer than its size") }
                state = .chunkSize
            case .trailers(let bytesSeen):
                guard let line = try readLine(maxLength: limits.maxHeaderSize, what: "trailer") else { return nil }
                if line.isEmpty {
                    state = .head
                    releaseBufferIfEmpty()
                    return .end
                }
                // Trailer fields are read and dropped: nothing in Edge acts on them.
                let seen = bytesSeen + line.count + 2
                guard seen <= limits.maxHeaderSize else { throw .headersTooLarge }
                state = .trailers(bytesSeen: seen)
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
            } else if first == UInt8(ascii: "\r"), buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == UInt8(ascii: "\n") {
                buffer.moveReaderIndex(forwardBy: 2)
            } else {
                return
            }
        }
    }

    /// Length of the head including its blank line, once it has fully arrived.
    private mutating func findHeadEnd() -> Int? {
        let start = headScanOffset
        let found: Int? = buffer.withUnsafeReadableBytes { raw in
            var index = start
            while index < raw.count {
                guard let newline = Self.index(of: UInt8(ascii: "\n"), in: raw, from: index) else { break }
                if newline + 1 < raw.count && raw[newline + 1] == UInt8(ascii: "\n") { return newline + 2 }
                if newline + 2 < raw.count && raw[newline + 1] == UInt8(ascii: "\r") && raw[newline + 2] == UInt8(ascii: "\n") {
                    return newline + 3
                }
                index = newline + 1
            }
            return nil
        }
        if found == nil { headScanOffset = max(0, buffer.readableBytes - 2) }
        return found
    }

    private func checkPartialHeadLimits() throws(HTTP1ParseError) {
        // Refuse binary garbage (a TLS ClientHello sent to a plain port, say) at once instead of waiting for a
        // line end that never comes: a request starts with a method token.
        let methodIsValid = buffer.withUnsafeReadableBytes { raw in
            for byte in raw.prefix(32) {
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") { return true }
                if !ASCII.isTokenCharacter[Int(byte)] { return false }
            }
            return raw.count <= 32
        }
        guard methodIsValid else { throw .malformed("invalid method") }
        let pending = buffer.readableBytes
        guard pending > limits.maxURILength + 32 else { return }
        let requestLineDone = buffer.withUnsafeReadableBytes { Self.index(of: UInt8(ascii: "\n"), in: $0, from: 0) != nil }
        if !requestLineDone { throw .uriTooLong }
        if pending > limits.maxURILength + limits.maxHeaderSize + 32 { throw .headersTooLarge }
    }

    private static func index(of byte: UInt8, in raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < raw.count, let base = raw.baseAddress else { return nil }
        guard let found = memchr(base + start, Int32(byte), raw.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// Reads one line (without its CRLF or LF); `nil` if it has not fully arrived.
    private mutating func readLine(maxLength: Int, what: String) throws(HTTP1ParseError) -> [UInt8]? {
        let newline = buffer.withUnsafeReadableBytes { Self.index(of: UInt8(ascii: "\n"), in: $0, from: 0) }
        guard let newline else {
            if buffer.readableBytes > maxLength + 1 { throw .malformed("\(what) too long") }
            return nil
        }
        var line = buffer.readBytes(length: newline + 1)!
        line.removeLast()
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard line.count <= maxLength else { throw .malformed("\(what) too long") }
        return line
    }

    static func parseChunkSize(_ line: [UInt8]) throws(HTTP1ParseError) -> Int {
        var size = 0
        var digits = 0
        for byte in line {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A") + 10)
            case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\t"):
                // Chunk extensions carry nothing Edge uses.
                guard digits > 0 else { throw .malformed("invalid chunk size") }
                return size
            default:
                throw .malformed("invalid chunk size")
            }
            digits += 1
            guard digits <= 15 else { throw .malformed("chunk size too large") }
            size = size << 4 | value
        }
        guard digits > 0 else { throw .malformed("invalid chunk size") }
        return size
    }
}
