extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (HTTP's optional whitespace).
    ///
    /// Found on the UTF-8 bytes: `Character`-wise trimming runs grapheme breaking at each step, and forwarded
    /// addresses are trimmed on every request behind a CDN.
    public func trimmedOfWhitespace() -> String {
        let text = Substring(self)
        let bytes = text.utf8
        guard let first = bytes.firstIndex(where: { !ASCII.isBlank($0) }),
            let last = bytes.lastIndex(where: { !ASCII.isBlank($0) })
        else { return "" }
        // `index(after:)` of the last byte that is not a space ends a whole character, even a multibyte one.
        return String(text[first..<bytes.index(after: last)])
    }
}
