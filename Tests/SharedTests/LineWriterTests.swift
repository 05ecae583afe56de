import NIOCore
import Testing

@testable import Shared

/// Escaping checks eight bytes at a time: every byte that must be escaped is found at every place in a value, and
/// no other byte is touched.
@Suite struct LineWriterTests {
    private func escaped(_ text: String) -> String {
        var buffer = ByteBuffer()
        LineWriter.write(into: &buffer, room: LineWriter.room(forText: text.utf8.count, fixedBytes: 0)) {
            $0.appendEscaped(text)
        }
        return String(buffer: buffer)
    }

    @Test(arguments: [0x00, 0x01, 0x1F, 0x22, 0x5C, 0x7F])
    func aByteThatMustBeEscapedIsFoundAnywhere(byte: Int) {
        let escape = "\\x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        for position in 0..<19 {
            var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 19)
            bytes[position] = UInt8(byte)
            let text = String(decoding: bytes, as: UTF8.self)
            let expected =
                String(repeating: "a", count: position) + escape + String(repeating: "a", count: 18 - position)
            #expect(escaped(text) == expected, "at \(position)")
        }
    }

    @Test func nonASCIIIsEscapedBytewise() {
        #expect(escaped("abcdefgh-é-abcdefgh") == "abcdefgh-\\xC3\\xA9-abcdefgh")
    }

    @Test func printableASCIIIsCopiedWhole() {
        let printable = String(
            decoding: (0x20...0x7E).filter { $0 != 0x22 && $0 != 0x5C }.map { UInt8($0) }, as: UTF8.self)
        #expect(escaped(printable) == printable)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
