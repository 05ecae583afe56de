import Testing

@testable import Shared

/// HTTP's optional whitespace (spaces and tabs) trimmed from field values, found on the UTF-8 bytes.
@Suite struct WhitespaceTrimmingTests {
    @Test func trimsSpacesAndTabsOnlyAtTheEnds() {
        #expect(" \t198.51.100.7 \t".trimmedOfWhitespace() == "198.51.100.7")
        #expect("a b".trimmedOfWhitespace() == "a b")
        #expect("plain".trimmedOfWhitespace() == "plain")
        #expect(" \t ".trimmedOfWhitespace() == "")
        #expect("".trimmedOfWhitespace() == "")
        #expect("\nx\n".trimmedOfWhitespace() == "\nx\n")  // not HTTP whitespace
    }

    @Test func keepsMultibyteCharactersWhole() {
        #expect("  caf\u{e9} ".trimmedOfWhitespace() == "caf\u{e9}")
        #expect(" \u{1F600}".trimmedOfWhitespace() == "\u{1F600}")
        #expect("e\u{301} ".trimmedOfWhitespace() == "e\u{301}")  // a combining mark stays with its letter
        #expect("  x y  "[...].dropFirst().trimmedOfWhitespace() == "x y")  // on a substring too
    }
}
