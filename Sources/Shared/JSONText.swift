import NIOCore

/// JSON string literals, for the log lines both servers write as JSON.
public enum JSONText {
    /// Writes `text` as a JSON string, quotes included: `"`, `\` and control characters escaped, everything else
    /// as its UTF-8 bytes.
    public static func write(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\"")
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0..<0x20, 0x7F:
                buffer.writeStaticString("\\u00")
                buffer.writeMultipleIntegers(hexDigit(byte >> 4), hexDigit(byte & 0xF))
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeStaticString("\"")
    }

    /// An uppercase hexadecimal digit for `nibble` (0-15), as its ASCII byte.
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }
}
