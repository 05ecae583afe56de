/// How error and info lines are written: readable text (the default), or one JSON object per line for journald
/// exports, Loki or Elasticsearch.
public enum LogFormat: String, Hashable, Sendable, NamedFormat {
    case text, json
}
