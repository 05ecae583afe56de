import Testing

@testable import Shared

/// The word-at-a-time field value check must agree with the byte rule for every byte, wherever it stands: inside
/// an eight-byte word (any of its lanes) or in the tail that is checked byte by byte.
@Suite struct FieldValueScanTests {
    private static func byteRule(_ byte: UInt8) -> Bool { (byte >= 0x20 || byte == 0x09) && byte != 0x7F }

    @Test func everyByteAtEveryPositionIsJudgedAsTheByteRuleSays() {
        for length in [1, 7, 8, 9, 16, 21] {
            for position in 0..<length {
                for byte in UInt8.min...UInt8.max {
                    var value = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    value[position] = byte
                    let verdict = value.withUnsafeBufferPointer {
                        HTTP1Scanning.isValidFieldValue($0.baseAddress!, count: length)
                    }
                    #expect(verdict == Self.byteRule(byte), "byte \(byte) at \(position) of \(length)")
                }
            }
        }
    }

    @Test func tabsAndObsTextPassNextToEachOtherButABadByteAmongThemDoesNot() {
        var value: [UInt8] = [0x09, 0x80, 0xFF, 0x20, 0x09, 0x7E, 0x09, 0xC3, 0xA9, 0x09]
        #expect(value.withUnsafeBufferPointer { HTTP1Scanning.isValidFieldValue($0.baseAddress!, count: $0.count) })
        value[5] = 0x7F
        #expect(!value.withUnsafeBufferPointer { HTTP1Scanning.isValidFieldValue($0.baseAddress!, count: $0.count) })
        value[5] = 0x00
        #expect(!value.withUnsafeBufferPointer { HTTP1Scanning.isValidFieldValue($0.baseAddress!, count: $0.count) })
    }
}

/// The word-at-a-time name comparison must agree with a byte-by-byte, case-folding one for every byte in every
/// position, for names shorter than a word, exactly a word, and with an overlapping last word.
@Suite struct CaseInsensitiveNameTests {
    private static let literals: [StaticString] = [
        "te", "if-match", "x-real-ip", "x-forwarded-host", "x-forwarded-proto",
    ]

    private static func folded(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte + 32 : byte }

    @Test func everyByteAtEveryPositionIsJudgedAsCaseFoldingSays() {
        for literal in Self.literals {
            let expected = Array(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
            for position in expected.indices {
                for byte in UInt8.min...UInt8.max {
                    var name = expected.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }  // upper case
                    name[position] = byte
                    let verdict = name.withUnsafeBytes { ASCII.equalsIgnoringCase($0, literal) }
                    #expect(
                        verdict == (Self.folded(byte) == expected[position]),
                        "byte \(byte) at \(position) of \(literal)")
                }
            }
        }
    }

    @Test func lengthsMustMatch() {
        #expect(!Array("x-real-i".utf8).withUnsafeBytes { ASCII.equalsIgnoringCase($0, "x-real-ip") })
        #expect(!Array("x-real-ipx".utf8).withUnsafeBytes { ASCII.equalsIgnoringCase($0, "x-real-ip") })
        #expect(Array("X-Real-IP".utf8).withUnsafeBytes { ASCII.equalsIgnoringCase($0, "x-real-ip") })
    }
}

/// The word-at-a-time ASCII check finds a non-ASCII byte in any lane and in the tail.
@Suite struct ASCIICheckTests {
    @Test func aHighByteAnywhereIsFoundAndOnlyASCIIPasses() {
        #expect([UInt8]().withUnsafeBytes { ASCII.isASCII($0) })
        for length in [1, 7, 8, 9, 17] {
            for position in 0..<length {
                for byte: UInt8 in [0x00, 0x41, 0x7F, 0x80, 0xC3, 0xFF] {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[position] = byte
                    #expect(
                        bytes.withUnsafeBytes { ASCII.isASCII($0) } == (byte < 0x80),
                        "byte \(byte) at \(position) of \(length)")
                }
            }
        }
    }
}
