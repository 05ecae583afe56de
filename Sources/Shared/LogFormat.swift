/// How error and info lines are written: readable text (the default), or one JSON object per line for journald
/// exports, Loki or Elasticsearch.
public enum LogFormat: String, Hashable, Sendable, Decodable, CaseIterable {
    case text, json

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let format = LogFormat(rawValue: text) else {
            throw ConfigValueError("unknown format '\(text)' (expected text or json)")
        }
        self = format
    }
}
