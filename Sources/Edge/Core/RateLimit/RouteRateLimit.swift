import NIOCore
import NIOHTTP1
import Shared

/// A route's `rate_limit`: its zone and what the route does with a request over the rate.
struct RouteRateLimit: Sendable {
    enum Verdict {
        case pass
        /// Serve after this wait (a request within the burst, without `nodelay`).
        case wait(TimeAmount)
        /// Refuse: the zone's bucket for the key stays full for `retryAfterSeconds` more seconds (a `dry_run`
        /// route logs it and serves the request).
        case refuse(retryAfterSeconds: Int)
    }

    let zone: RateLimitZone
    let burst: Int
    let nodelay: Bool
    let status: HTTPStatus
    let dryRun: Bool

    init(zone: RateLimitZone, config: RateLimitConfig) {
        self.zone = zone
        self.burst = config.burst
        self.nodelay = config.nodelay
        self.status = HTTPStatus(
            code: config.status, reason: HTTPResponseStatus(statusCode: config.status).reasonPhrase)
        self.dryRun = config.dryRun
    }

    /// The key `head` is counted against, `nil` when it is not limited (a header key the request lacks).
    func key(of head: RequestHead, client: () -> String) -> String? {
        switch zone.settings.key {
        case .client: client()
        case .route: ""
        case .header(let name): Self.firstValue(of: name, in: head.headers).flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    /// The value of the first field named `name` (given in lowercase; names compare ASCII case-insensitively).
    private static func firstValue(of name: String, in headers: HeaderFields) -> String? {
        let wanted = Array(name.utf8)
        var found: String?
        headers.forEachNameAndValue { fieldName, value in
            guard found == nil, fieldName.count == wanted.count else { return }
            for (byte, expected) in zip(fieldName, wanted) {
                let lowered = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
                if lowered != expected { return }
            }
            found = String(decoding: value, as: UTF8.self)
        }
        return found
    }

    /// Counts a request for `key` and says what becomes of it.
    func judge(_ key: String, now: NIODeadline) -> Verdict {
        switch zone.take(key, burst: burst, nodelay: nodelay, now: now) {
        case .pass: .pass
        case .delay(let milliseconds): .wait(.milliseconds(Int64(milliseconds)))
        case .refuse(let milliseconds): .refuse(retryAfterSeconds: max(1, (milliseconds + 999) / 1000))
        }
    }

    /// The answer to a refused request: the configured status (429 by default) with `Retry-After`.
    func refusal(retryAfterSeconds: Int) -> Response {
        .simple(status, headers: [("Retry-After", String(retryAfterSeconds))])
    }
}
