import Foundation

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
        return pieces[2].removingPercentEncoding  // nil when the bytes are not UTF-8
    }
}
