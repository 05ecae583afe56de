import NIOConcurrencyHelpers

/// The server's rate-limit zones, kept across configuration reloads: a zone whose name and settings are unchanged
/// by a HUP keeps its buckets, so a reload does not hand every client a fresh burst.
public final class RateLimitZones: Sendable {
    private let zones = NIOLockedValueBox<[String: RateLimitZone]>([:])

    public init() {}

    /// The rate limit of each route (by its index in `routes`), with the zones of the previous configuration
    /// reused where they still fit; zones no route names any more are dropped.
    func limits(for routes: [RouteConfig]) -> [RouteRateLimit?] {
        zones.withLockedValue { running in
            var kept: [String: RateLimitZone] = [:]
            let limits = routes.map { route -> RouteRateLimit? in
                guard let config = route.rateLimit else { return nil }
                let name = Self.zoneName(of: route)
                let zone =
                    kept[name] ?? running[name].flatMap { $0.settings == config.zoneSettings ? $0 : nil }
                    ?? RateLimitZone(name: name, settings: config.zoneSettings)
                kept[name] = zone
                return RouteRateLimit(zone: zone, config: config)
            }
            running = kept
            return limits
        }
    }

    /// The zone a route's limit counts in: the one it names, or its own, named by its prefix.
    static func zoneName(of route: RouteConfig) -> String {
        route.rateLimit?.zone ?? route.prefix
    }
}
