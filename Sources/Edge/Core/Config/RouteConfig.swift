import Shared

/// One `routes` entry: requests whose path starts with `prefix` are served from `dir`.
public struct RouteConfig: Sendable, Hashable {
    /// Path prefix such as `/static/`; the longest matching prefix wins.
    public var prefix: String
    /// Directory the files come from (absolute once the config is loaded); the prefix is stripped.
    /// Empty for a proxied route.
    public var dir: String
    /// Name of the `upstreams` entry requests are proxied to; `nil` for a static route.
    public var upstream: String?
    /// `Cache-Control` value sent with files of this route, if any.
    public var cacheControl: String?
    /// Which client addresses the route serves (`allow`, `deny`).
    public var access = AccessRules()
    /// `rate_limit`: requests per key (client, header or the whole route) over a rate wait or are refused.
    public var rateLimit: RateLimitConfig?

    /// A route serving `dir` under `prefix`.
    public init(prefix: String, dir: String, cacheControl: String? = nil, upstream: String? = nil) {
        self.prefix = prefix
        self.dir = dir
        self.cacheControl = cacheControl
        self.upstream = upstream
    }
}

extension RouteConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case prefix, dir, upstream, allow, deny
        case cacheControl = "cache_control"
        case rateLimit = "rate_limit"
    }

    public init(from decoder: any Decoder) throws {
        self.init(prefix: "/", dir: "")
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        if let prefix: String = container.required(.prefix, decoder) {
            self.prefix = prefix
            if !prefix.hasPrefix("/") {
                decoder.diagnostics.record(
                    "must start with '/', not '\(prefix)'", at: decoder.codingPath + [Keys.prefix])
            }
        }
        upstream = container.value(.upstream, default: nil, decoder)
        switch (container.contains(.dir), upstream != nil) {
        case (true, true):
            decoder.diagnostics.record("a route has either dir or upstream, not both", at: decoder.codingPath)
        case (false, false):
            decoder.diagnostics.record("missing required key 'dir' (or 'upstream')", at: decoder.codingPath)
        case (true, false):
            dir = container.value(.dir, default: "", decoder)
        case (false, true):
            break
        }
        cacheControl = container.value(.cacheControl, default: nil, decoder)
        access.allow = Self.ranges(.allow, in: container, decoder)
        access.deny = Self.ranges(.deny, in: container, decoder)
        rateLimit = container.value(.rateLimit, default: nil, decoder)
        if let value = cacheControl, value.contains(where: { $0 == "\r" || $0 == "\n" }) {
            decoder.diagnostics.record("must be a single line", at: decoder.codingPath + [Keys.cacheControl])
        }
    }

    /// An `allow` or `deny` list; each entry that is not a range, an address or `all` is a problem naming it.
    private static func ranges(
        _ key: Keys, in container: KeyedDecodingContainer<Keys>, _ decoder: any Decoder
    ) -> [CIDR] {
        let texts: [String] = container.value(key, default: [], decoder)
        var ranges: [CIDR] = []
        for (index, text) in texts.enumerated() {
            if let parsed = AccessRules.ranges(text) {
                ranges += parsed
            } else {
                decoder.diagnostics.record(
                    "invalid address range '\(text)' (expected an address, a CIDR range or all)",
                    at: decoder.codingPath + [key, AnyCodingKey(intValue: index)])
            }
        }
        return ranges
    }
}
