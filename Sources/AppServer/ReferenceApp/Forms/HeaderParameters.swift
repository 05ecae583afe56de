/// A header value of the form `type; name=value; name="quoted value"` (RFC 9110 §5.6.6), as `Content-Type` and
/// `Content-Disposition` are written.
struct HeaderParameters: Equatable {
    /// What comes before the first `;`, lowercased: `multipart/form-data`, `form-data`.
    var value: String
    /// Parameter names lowercased; quoted values unquoted and unescaped. The first of a repeated name wins.
    var parameters: [String: String]

    init(parsing field: some StringProtocol) {
        var rest = Substring(field)
        let semicolon = rest.firstIndex(of: ";") ?? rest.endIndex
        value = rest[..<semicolon].trimmingSpaces.lowercased()
        rest = rest[semicolon...]
        parameters = [:]
        while let (name, parameter) = Self.nextParameter(in: &rest) {
            if parameters[name] == nil { parameters[name] = parameter }
        }
    }

    subscript(name: String) -> String? { parameters[name] }

    /// Reads `; name=value` from the front of `rest`; nil at the end. A name without `=` has an empty value.
    private static func nextParameter(in rest: inout Substring) -> (String, String)? {
        rest = rest.drop { $0 == ";" || $0 == " " || $0 == "\t" }
        guard !rest.isEmpty else { return nil }
        let nameEnd = rest.firstIndex { $0 == "=" || $0 == ";" } ?? rest.endIndex
        let name = rest[..<nameEnd].trimmingSpaces.lowercased()
        rest = rest[nameEnd...]
        guard rest.first == "=" else { return (name, "") }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
        if rest.first == "\"" { return (name, quotedString(in: &rest)) }
        let valueEnd = rest.firstIndex(of: ";") ?? rest.endIndex
        defer { rest = rest[valueEnd...] }
        return (name, String(rest[..<valueEnd].trimmingSpaces))
    }

    /// Reads `"…"` from the front of `rest`, where `\x` stands for `x`. An unclosed quote runs to the end: a
    /// browser's file name is better kept than refused over it.
    private static func quotedString(in rest: inout Substring) -> String {
        var result = ""
        var escaped = false
        var index = rest.index(after: rest.startIndex)
        while index < rest.endIndex {
            let character = rest[index]
            index = rest.index(after: index)
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                break
            } else {
                result.append(character)
            }
        }
        rest = rest[index...]
        return result
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let view = Substring(self)
        guard let first = view.firstIndex(where: { !isSpace($0) }), let last = view.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return view[first...last]
    }
}
