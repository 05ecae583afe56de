import Shared

/// One `routes` entry: requests whose path starts with `prefix` are served from `dir`.
public struct RouteConfig: Sendable, Hashable {
    /// Path prefix such as `/static/`; the longest matching prefix wins.
    public var prefix: String
    /// Directory the files come from (absolute once the config is loaded); the prefix is stripped.
    public var dir: String
    /// `Cache-Control` value sent with files of this route, if any.
    public var cacheControl: String?

    /// A route serving `dir` under `prefix`.
    public init(prefix: String, dir: String, cacheControl: String? = nil) {
        self.prefix = prefix
        self.dir = dir
        self.cacheControl = cacheControl
    }
}

extension RouteConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case prefix, dir
        case cacheControl = "cache_control"
    }

    public init(from decoder: any Decoder) throws {
        self.init(prefix: "/", dir: "")
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        if let prefix: String = container.required(.prefix, decoder) {
            self.prefix = prefix
            if !prefix.hasPrefix("/") {
                decoder.diagnostics.record("must start with '/', not '\(prefix)'", at: decoder.codingPath + [Keys.prefix])
            }
        }
        if let dir: String = container.required(.dir, decoder) {
            self.dir = dir
        }
        cacheControl = container.value(.cacheControl, default: nil, decoder)
        if let value = cacheControl, value.contains(where: { $0 == "\r" || $0 == "\n" }) {
            decoder.diagnostics.record("must be a single line", at: decoder.codingPath + [Keys.cacheControl])
        }
    }
}
