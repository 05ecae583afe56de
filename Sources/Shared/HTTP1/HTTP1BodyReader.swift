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

    /// The size on a chunk's line; its extensions (RFC 9112 §7.1.1) are checked against the grammar and dropped. A
    /// line that bends the grammar (a bare `;`, a name that is not a token, whitespace that leads nowhere, a control
    /// character) is how one parser is made to see a chunk boundary another does not, so it is refused.
    static func parseChunkSize(_ line: [UInt8]) throws(HTTP1ParseError) -> Int {
        var size = 0
        var index = 0
        while index < line.count, let value = hexValue(line[index]) {
            index += 1
            guard index <= 15 else { throw .malformed("chunk size too large") }
            size = size << 4 | value
        }
        guard index > 0 else { throw .malformed("invalid chunk size") }
        try checkExtensions(line, from: index)
        return size
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )` from `start` to the end of the line.
    private static func checkExtensions(_ line: [UInt8], from start: Int) throws(HTTP1ParseError) {
        var index = start
        func skipBlanks() { while index < line.count && ASCII.isBlank(line[index]) { index += 1 } }
        func token() -> Bool {
            let tokenStart = index
            while index < line.count && ASCII.isTokenByte(line[index]) { index += 1 }
            return index > tokenStart
        }
        while index < line.count {
            skipBlanks()
            guard index < line.count, line[index] == UInt8(ascii: ";") else {
                throw .malformed("invalid chunk extension")
            }
            index += 1
            skipBlanks()
            guard token() else { throw .malformed("invalid chunk extension name") }
            let afterName = index
            skipBlanks()
            guard index < line.count, line[index] == UInt8(ascii: "=") else {
                index = afterName
                continue
            }
            index += 1
            skipBlanks()
            if index < line.count && line[index] == UInt8(ascii: "\"") {
                index = try endOfQuotedString(line, from: index)
            } else if !token() {
                throw .malformed("invalid chunk extension value")
            }
        }
    }

    /// The index after the quoted string starting at `start` (RFC 9110 §5.6.4).
    private static func endOfQuotedString(_ line: [UInt8], from start: Int) throws(HTTP1ParseError) -> Int {
        var index = start + 1
        while index < line.count {
            let byte = line[index]
            if byte == UInt8(ascii: "\"") { return index + 1 }
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard index < line.count, isQuotedTextByte(line[index]) || line[index] == UInt8(ascii: "\"") else {
                    throw .malformed("invalid chunk extension value")
                }
            } else if !isQuotedTextByte(byte) {
                throw .malformed("invalid chunk extension value")
            }
            index += 1
        }
        throw .malformed("unterminated quoted chunk extension value")
    }

    /// HTAB, SP, visible ASCII and obs-text; not `"` (which ends the string).
    private static func isQuotedTextByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F && byte != UInt8(ascii: "\""))
    }
}
