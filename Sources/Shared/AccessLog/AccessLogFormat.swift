/// `access_log_format`: nginx's `combined` plus request time, or one JSON object per line.
public enum AccessLogFormat: String, Hashable, Sendable, NamedFormat {
    case combined, json
}
