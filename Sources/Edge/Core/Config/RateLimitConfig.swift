import Shared

/// A route's `rate_limit`: nginx's `limit_req` with its zone. Requests above `rate` wait (up to `burst` of them,
/// released at the rate) or are served at once with `nodelay`; beyond the burst they are refused.
public struct RateLimitConfig: Sendable, Hashable {
    /// Requests a key may make, in thousandths of a request per minute (`10/s` is 600,000; `30/m` is 30,000).
    public var milliRequestsPerMinute = 60_000
    /// Requests above the rate that wait (or, with `nodelay`, are served at once) rather than being refused.
    public var burst = 0
    public var nodelay = false
    /// What a request is counted against.
    public var key: Key = .client
    /// Routes naming the same zone share its state; by default each route has its own, named by its prefix.
    public var zone: String?
    /// The zone's memory budget: it holds `memory / RateLimitZone.bytesPerKey` keys, least recently used evicted.
    public var memory: ByteSize = .mebibytes(10)
    /// The status of a refused request.
    public var status = 429
    /// Log what would be refused, refuse nothing.
    public var dryRun = false

    public enum Key: Sendable, Hashable, CustomStringConvertible {
        /// The client's address as `real_ip` decides it.
        case client
        /// A request field's value (an API key); requests without the field are not limited, as nginx does for an
        /// empty key.
        case header(String)
        /// The whole route: one bucket for every client.
        case route

        public var description: String {
            switch self {
            case .client: "client"
            case .header(let name): "header:\(name)"
            case .route: "route"
            }
        }
    }

    public init() {}

    /// The settings that make up the zone's state: routes sharing a zone must agree on them, and a zone whose
    /// settings did not change keeps its state over a HUP.
    var zoneSettings: ZoneSettings {
        ZoneSettings(milliRequestsPerMinute: milliRequestsPerMinute, key: key, memory: memory)
    }

    struct ZoneSettings: Hashable, Sendable {
        var milliRequestsPerMinute: Int
        var key: Key
        var memory: ByteSize
    }

    /// `10/s`, `10r/s`, `600/m`: the rate in thousandths of a request per minute; `nil` when it is none of these.
    static func parseRate(_ text: String) -> Int? {
        let parts = text.lowercased().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        var count = parts[0]
        if count.hasSuffix("r") { count = count.dropLast() }
        guard let requests = Int(count), requests > 0, requests <= 1_000_000 else { return nil }
        switch parts[1] {
        case "s": return requests * 60_000
        case "m": return requests * 1000
        default: return nil
        }
    }
}

extension RateLimitConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case rate, burst, nodelay, key, zone, memory, status
        case dryRun = "dry_run"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        if let rate: String = container.required(.rate, decoder) {
            if let parsed = Self.parseRate(rate) {
                milliRequestsPerMinute = parsed
            } else {
                decoder.diagnostics.record(
                    "invalid rate '\(rate)' (expected requests per second or minute: 10/s, 600/m)",
                    at: decoder.codingPath + [Keys.rate])
            }
        }
        burst = container.value(.burst, default: burst, decoder)
        nodelay = container.value(.nodelay, default: nodelay, decoder)
        let keyText: String = container.value(.key, default: "client", decoder)
        switch keyText {
        case "client": key = .client
        case "route": key = .route
        case let text where text.hasPrefix("header:") && text.count > "header:".count:
            key = .header(String(text.dropFirst("header:".count)).lowercased())
        default:
            decoder.diagnostics.record(
                "invalid key '\(keyText)' (expected client, route or header:NAME)", at: decoder.codingPath + [Keys.key])
        }
        zone = container.value(.zone, default: nil, decoder)
        memory = container.value(.memory, default: memory, decoder)
        status = container.value(.status, default: status, decoder)
        dryRun = container.value(.dryRun, default: dryRun, decoder)
        if burst < 0 || burst > 100_000 {
            decoder.diagnostics.record("must be 0 to 100000", at: decoder.codingPath + [Keys.burst])
        }
        if memory.bytes < 16 * 1024 {
            decoder.diagnostics.record("must be at least 16KiB", at: decoder.codingPath + [Keys.memory])
        }
        if !(400...599).contains(status) {
            decoder.diagnostics.record("must be an error status, 400 to 599", at: decoder.codingPath + [Keys.status])
        }
    }
}
