/// `access_log_format`: nginx's `combined` plus request time, or one JSON object per line.
public enum AccessLogFormat: String, Hashable, Sendable, Decodable {
    case combined, json

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let format = AccessLogFormat(rawValue: text) else {
            throw ConfigValueError("unknown format '\(text)' (expected combined or json)")
        }
        self = format
    }
}
