/// The header of one part of a `multipart/form-data` body (RFC 7578 §4): the field it belongs to and, for a file
/// input, the file's name as the browser sent it.
struct FormPart: Equatable {
    /// The form field's `name`.
    var name: String?
    /// The file's name, when the part is a file: `filename*` (RFC 8187, UTF-8) if present, else `filename`.
    /// Browsers send an empty one for a file input left empty.
    var filename: String?
    var contentType: String?

    /// Parses the part's header lines (CRLF-separated, without the blank line that ends them).
    init(headerBlock: String) {
        for line in headerBlock.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let fieldValue = line[line.index(after: colon)...]
            switch line[..<colon].trimmingSpaces.lowercased() {
            case "content-disposition":
                let disposition = HeaderParameters(parsing: fieldValue)
                name = disposition["name"]
                filename = disposition["filename*"].flatMap(Self.decodeExtendedValue) ?? disposition["filename"]
            case "content-type":
                contentType = String(fieldValue.trimmingSpaces)
            default:
                continue
            }
        }
    }

    init(name: String?, filename: String?, contentType: String? = nil) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
    }

    /// `UTF-8''caf%C3%A9.txt` → `café.txt`; nil for another charset or bad percent-encoding.
    static func decodeExtendedValue(_ value: String) -> String? {
        let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0].lowercased() == "utf-8" else { return nil }
        var bytes: [UInt8] = []
        var utf8 = pieces[2].utf8.makeIterator()
        while let byte = utf8.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = utf8.next().flatMap(Self.hexValue), let low = utf8.next().flatMap(Self.hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
