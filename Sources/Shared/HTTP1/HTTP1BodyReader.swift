import NIOCore

/// Reads one message body out of a parser's buffer, framed as RFC 9112 §6 says: a fixed length, chunked (chunk
/// extensions and trailer fields read and dropped), or, for responses only, everything until the connection
/// closes. Shared by the request and the response parser.
struct HTTP1BodyReader: Equatable {
    enum Event {
        case body(ByteBuffer)
        case end
    }

    private enum State: Equatable {
        case endPending
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytesSeen: Int)
        case untilClose
    }

    private var state: State

    init(_ framing: BodyFraming) {
        switch framing {
        case .none, .length(0): state = .endPending
        case .length(let length): state = .fixed(remaining: length)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
    }

    /// Whether the body ends only when the connection closes.
    var endsAtClose: Bool { state == .untilClose }

    /// The next piece of the body or its end; `nil` when more bytes are needed. Trailer sections are limited to
    /// `maxTrailerSize` bytes.
    mutating func next(from buffer: inout ByteBuffer, maxTrailerSize: Int) throws(HTTP1ParseError) -> Event? {
        while true {
            switch state {
            case .endPending:
                return .end
            case .fixed(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state =
                    remaining == slice.readableBytes ? .endPending : .fixed(remaining: remaining - slice.readableBytes)
                return .body(slice)
            case .untilClose:
                guard buffer.readableBytes > 0 else { return nil }
                return .body(buffer.readSlice(length: buffer.readableBytes)!)
            case .chunkSize:
                guard let line = try Self.readLine(from: &buffer, maxLength: 1024, what: "chunk size line") else {
                    return nil
                }
                let size = try Self.parseChunkSize(line)
                state = size == 0 ? .trailers(bytesSeen: 0) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                state =
                    remaining == slice.readableBytes
                    ? .chunkDataEnd : .chunkData(remaining: remaining - slice.readableBytes)
                return .body(slice)
            case .chunkDataEnd:
                guard let line = try Self.readLine(from: &buffer, maxLength: 2, what: "chunk end") else { return nil }
                guard line.isEmpty else { throw .malformed("chunk data longer than its size") }
                state = .chunkSize
            case .trailers(let bytesSeen):
                guard let line = try Self.readLine(from: &buffer, maxLength: maxTrailerSize, what: "trailer") else {
                    return nil
                }
                if line.isEmpty { return .end }
                // Trailer fields are read and dropped: nothing here acts on them.
                let seen = bytesSeen + line.count + 2
                guard seen <= maxTrailerSize else { throw .headersTooLarge }
                state = .trailers(bytesSeen: seen)
            }
        }
    }

    /// Reads one line (without its CRLF or LF); `nil` if it has not fully arrived.
    private static func readLine(
        from buffer: inout ByteBuffer, maxLength: Int, what: String
    ) throws(HTTP1ParseError) -> [UInt8]? {
        let newline = buffer.withUnsafeReadableBytes { HTTP1Scanning.index(of: UInt8(ascii: "\n"), in: $0, from: 0) }
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
                // Chunk extensions carry nothing used here.
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
