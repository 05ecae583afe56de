import NIOCore

/// The status page's content, written once by each binary and rendered as JSON (`/status?format=json`, or an
/// `Accept: application/json` request) or as an HTML page: objects become definition tables, arrays of objects
/// become tables with a column per key.
public indirect enum StatusValue: Sendable, Equatable {
    case number(Double)
    case text(String)
    case bool(Bool)
    case null
    /// Keys in the order they are shown.
    case object([(String, StatusValue)])
    case array([StatusValue])

    public static func == (lhs: StatusValue, rhs: StatusValue) -> Bool {
        switch (lhs, rhs) {
        case (.number(let a), .number(let b)): a == b
        case (.text(let a), .text(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        case (.object(let a), .object(let b)): a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        case (.array(let a), .array(let b)): a == b
        default: false
        }
    }

    /// A whole number, shown without a fraction.
    public static func integer<N: BinaryInteger>(_ value: N) -> StatusValue { .number(Double(value)) }

    // MARK: JSON

    public func json() -> ByteBuffer {
        var buffer = ByteBuffer()
        writeJSON(into: &buffer)
        buffer.writeStaticString("\n")
        return buffer
    }

    private func writeJSON(into buffer: inout ByteBuffer) {
        switch self {
        case .number(let value): buffer.writeString(Self.format(value))
        case .text(let text): JSONText.write(text, into: &buffer)
        case .bool(let value): buffer.writeString(value ? "true" : "false")
        case .null: buffer.writeStaticString("null")
        case .object(let members):
            buffer.writeStaticString("{")
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { buffer.writeStaticString(",") }
                JSONText.write(key, into: &buffer)
                buffer.writeStaticString(":")
                value.writeJSON(into: &buffer)
            }
            buffer.writeStaticString("}")
        case .array(let elements):
            buffer.writeStaticString("[")
            for (index, element) in elements.enumerated() {
                if index > 0 { buffer.writeStaticString(",") }
                element.writeJSON(into: &buffer)
            }
            buffer.writeStaticString("]")
        }
    }

    /// Whole numbers without a fraction, others with at most three decimals; never NaN or infinity (not JSON).
    private static func format(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String((value * 1000).rounded() / 1000)
    }

    // MARK: HTML

    /// A whole page: `title`, then each top-level member as a section.
    public func html(title: String) -> ByteBuffer {
        var page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>\(Self.escape(title))</title>\n"
        page += "<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        page += "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f4f4f4}</style>\n"
        page += "</head><body>\n<h1>\(Self.escape(title))</h1>\n"
        if case .object(let sections) = self {
            for (name, value) in sections {
                page += "<h2>\(Self.escape(name))</h2>\n" + value.htmlBody() + "\n"
            }
        } else {
            page += htmlBody()
        }
        page += "<p><a href=\"?format=json\">JSON</a></p>\n</body></html>\n"
        return ByteBuffer(string: page)
    }

    private func htmlBody() -> String {
        switch self {
        case .object(let members):
            return "<table>"
                + members.map { "<tr><th>\(Self.escape($0.0))</th><td>\($0.1.htmlBody())</td></tr>" }.joined()
                + "</table>"
        case .array(let elements):
            guard case .object(let first)? = elements.first else {
                return elements.isEmpty ? "none" : elements.map { $0.htmlBody() }.joined(separator: ", ")
            }
            let columns = first.map(\.0)
            var table = "<table><tr>" + columns.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr>"
            for element in elements {
                guard case .object(let members) = element else { continue }
                let cells = Dictionary(members, uniquingKeysWith: { a, _ in a })
                table += "<tr>" + columns.map { "<td>\(cells[$0]?.htmlBody() ?? "")</td>" }.joined() + "</tr>"
            }
            return table + "</table>"
        case .number(let value): return Self.format(value)
        case .text(let text): return Self.escape(text)
        case .bool(let value): return value ? "yes" : "no"
        case .null: return "–"
        }
    }

    private static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "&": escaped += "&amp;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
