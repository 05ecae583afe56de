import NIOCore

/// Writes a line of text into memory already reserved for it, at a cursor: log lines are made of twenty-odd small
/// pieces, and a `ByteBuffer` write per piece (each checking capacity and uniqueness) cost more than the bytes.
///
/// The caller reserves enough room (`room(forText:fixedBytes:)`); writing past it is a programming error, and traps.
public struct LineWriter {
    private let memory: UnsafeMutableRawBufferPointer
    /// Bytes written so far.
    public private(set) var count = 0

    public init(_ memory: UnsafeMutableRawBufferPointer) {
        self.memory = memory
    }

    /// Room for a line whose text fields total `textBytes` UTF-8 bytes, each escaped at worst (`\u00XX`, six bytes
    /// for one), plus `fixedBytes` of literals and numbers.
    public static func room(forText textBytes: Int, fixedBytes: Int) -> Int {
        6 * textBytes + fixedBytes
    }

    /// Writes `line`'s bytes at the end of `buffer`, in room reserved for them.
    public static func write(
        into buffer: inout ByteBuffer, room: Int, _ line: (inout LineWriter) -> Void
    ) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { memory in
            var writer = LineWriter(memory)
            line(&writer)
            return writer.count
        }
    }

    public mutating func append(_ literal: StaticString) {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    public mutating func append(_ byte: UInt8) {
        precondition(count < memory.count, "a line overran the room reserved for it")
        memory[count] = byte
        count += 1
    }

    /// `text` as it is.
    public mutating func append(_ text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if copied == nil {
            for byte in text.utf8 { append(byte) }
        }
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        precondition(count + bytes.count <= memory.count, "a line overran the room reserved for it")
        (memory.baseAddress! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    /// nginx-style escaping: `"`, `\` and bytes outside printable ASCII become `\xHH`, so a client cannot forge
    /// log fields or inject terminal escapes. A value with nothing to escape, nearly every one, is copied whole.
    public mutating func appendEscaped(_ text: String) {
        let copied: Bool? = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard !Self.anyNeedsEscape(UnsafeRawBufferPointer(bytes)) else { return false }
            append(UnsafeRawBufferPointer(bytes))
            return true
        }
        if copied == true { return }
        for byte in text.utf8 {
            if Self.needsEscape(byte) {
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "x"))
                append(Self.hexDigit(byte >> 4))
                append(Self.hexDigit(byte & 0xF))
            } else {
                append(byte)
            }
        }
    }

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// Whether any byte needs escaping, eight bytes at a time: a scan byte by byte was a third of a line's cost.
    private static func anyNeedsEscape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        /// Whether a byte of `word` is zero.
        @inline(__always) func hasZero(_ word: UInt64) -> Bool { (word &- ones) & ~word & highs != 0 }
        var index = 0
        while index + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            // Bytes of 0x80 and above; below 0x20 (subtracting 0x20 borrows into the high bit); 0x7F, `"`, `\`.
            if word & highs != 0 || (word &- 0x20 &* ones) & ~word & highs != 0 || hasZero(word ^ (0x7F &* ones))
                || hasZero(word ^ (0x22 &* ones)) || hasZero(word ^ (0x5C &* ones))
            {
                return true
            }
            index += 8
        }
        while index < bytes.count {
            if needsEscape(bytes[index]) { return true }
            index += 1
        }
        return false
    }

    /// `text` as a JSON string, quotes included: `"`, `\` and control characters escaped, everything else as its
    /// UTF-8 bytes.
    public mutating func appendJSONString(_ text: String) {
        append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0..<0x20, 0x7F:
                append("\\u00")
                append(Self.hexDigit(byte >> 4))
                append(Self.hexDigit(byte & 0xF))
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }

    /// An integer in decimal, without making a `String`: at most 20 bytes.
    public mutating func appendDecimal(_ value: Int) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        precondition(count + digits <= memory.count, "a line overran the room reserved for it")
        for position in stride(from: count + digits - 1, through: count, by: -1) {
            memory[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        }
        count += digits
    }

    /// `0.003`: seconds with millisecond precision, like nginx; at most 24 bytes.
    public mutating func appendSeconds(_ seconds: Double) {
        let millis = max(0, Int((seconds * 1000).rounded()))
        appendDecimal(millis / 1000)
        let fraction = millis % 1000
        append(UInt8(ascii: "."))
        append(UInt8(ascii: "0") + UInt8(fraction / 100))
        append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    /// An uppercase hexadecimal digit for `nibble` (0-15), as its ASCII byte.
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }
}
