import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension ByteBuffer {
    /// Appends received bytes for a parser. The common case (nothing left over) adopts `bytes` without copying.
    mutating func appendAdopting(_ bytes: ByteBuffer) {
        if readableBytes == 0 {
            self = bytes
        } else {
            var bytes = bytes
            if readerIndex > 0 { discardReadBytes() }
            writeBuffer(&bytes)
        }
    }
}

/// Byte searches shared by the request and response parsers.
public enum HTTP1Scanning {
    /// The offset of the first `byte` at or after `start`, found with `memchr`.
    public static func index(of byte: UInt8, in raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < raw.count, let base = raw.baseAddress else { return nil }
        guard let found = memchr(base + start, Int32(byte), raw.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// The length of a head including its blank line (CRLF CRLF, or bare LFs), searching from `start`.
    static func headLength(in raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while index < raw.count {
            guard let newline = Self.index(of: UInt8(ascii: "\n"), in: raw, from: index) else { return nil }
            if newline + 1 < raw.count && raw[newline + 1] == UInt8(ascii: "\n") { return newline + 2 }
            if newline + 2 < raw.count && raw[newline + 1] == UInt8(ascii: "\r")
                && raw[newline + 2] == UInt8(ascii: "\n")
            {
                return newline + 3
            }
            index = newline + 1
        }
        return nil
    }

    /// Whether `count` bytes at `start` may stand in a field value (RFC 9110 §5.5): no control character but HTAB,
    /// no DEL; obs-text (0x80 and up) is allowed.
    ///
    /// Eight bytes at a time, because every value of every request and proxied response passes here: a word with no
    /// byte below 0x20 and none equal to 0x7F is fine as a whole; only a word that trips the test (usually a tab) is
    /// looked at byte by byte. Both word tests are exact about whether such a byte exists.
    static func isValidFieldValue(_ start: UnsafePointer<UInt8>, count: Int) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        var index = 0
        while index + 8 <= count {
            let word = UnsafeRawPointer(start + index).loadUnaligned(as: UInt64.self)
            let hasControl = (word &- ones &* 0x20) & ~word & highBits
            let xorDEL = word ^ (ones &* 0x7F)
            let hasDEL = (xorDEL &- ones) & ~xorDEL & highBits
            if hasControl | hasDEL != 0 {
                for offset in index..<index + 8 where !isValidFieldValueByte(start[offset]) { return false }
            }
            index += 8
        }
        while index < count {
            if !isValidFieldValueByte(start[index]) { return false }
            index += 1
        }
        return true
    }

    private static func isValidFieldValueByte(_ byte: UInt8) -> Bool {
        (byte >= 0x20 || byte == 0x09) && byte != 0x7F
    }

    /// `line` without its trailing CR.
    static func trimCR(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        line.last == UInt8(ascii: "\r") ? UnsafeRawBufferPointer(rebasing: line.dropLast()) : line
    }

    /// The header section of a complete head: after the start line, before the blank line.
    static func fieldSection(
        ofHeadLength length: Int,
        startLineEnd: Int,
        in head: UnsafeRawBufferPointer
    ) -> Range<Int> {
        let fieldsStart = startLineEnd + 1
        let blankLineLength = head[length - 2] == UInt8(ascii: "\r") ? 2 : 1
        return fieldsStart..<max(fieldsStart, length - blankLineLength)
    }
}
