import Foundation
import NIOCore
import Shared
import TestSupport
import Testing

@testable import EdgeCore

/// `rate_limit`: nginx's `limit_req` arithmetic on an injected clock, the bounded table, the config, and zones
/// that survive a reload.
@Suite struct RateLimitTests {
    /// 10 requests a second: one drains every 100 ms.
    func buckets(capacity: Int = 100) -> LeakyBuckets {
        LeakyBuckets(milliRequestsPerMinute: 600_000, capacity: capacity)
    }

    @Test func withoutBurstASecondRequestWithinTheIntervalIsRefused() {
        var buckets = buckets()
        #expect(buckets.take("a", burst: 0, nodelay: false, now: 1_000) == .pass)
        #expect(buckets.take("a", burst: 0, nodelay: false, now: 1_040) == .refuse(retryAfterMilliseconds: 60))
        // A refused request is not counted: at the full interval the key gets in again.
        #expect(buckets.take("a", burst: 0, nodelay: false, now: 1_100) == .pass)
        // Other keys have their own buckets.
        #expect(buckets.take("b", burst: 0, nodelay: false, now: 1_100) == .pass)
    }

    @Test func requestsWithinTheBurstWaitTheirTurnAtTheRate() {
        var buckets = buckets()
        #expect(buckets.take("a", burst: 3, nodelay: false, now: 0) == .pass)
        #expect(buckets.take("a", burst: 3, nodelay: false, now: 0) == .delay(milliseconds: 100))
        #expect(buckets.take("a", burst: 3, nodelay: false, now: 0) == .delay(milliseconds: 200))
        #expect(buckets.take("a", burst: 3, nodelay: false, now: 0) == .delay(milliseconds: 300))
        #expect(buckets.take("a", burst: 3, nodelay: false, now: 0) == .refuse(retryAfterMilliseconds: 100))
        // 250 ms later two and a half have drained.
        #expect(buckets.take("a", burst: 3, nodelay: false, now: 250) == .delay(milliseconds: 150))
    }

    @Test func nodelayServesTheBurstAtOnceAndStillRefusesBeyondIt() {
        var buckets = buckets()
        let decisions = (0..<4).map { _ in buckets.take("a", burst: 2, nodelay: true, now: 0) }
        #expect(decisions == [.pass, .pass, .pass, .refuse(retryAfterMilliseconds: 100)])
    }

    @Test func aFullTableEvictsTheLeastRecentlyUsedKey() {
        var buckets = buckets(capacity: 3)
        for key in ["a", "b", "c"] { _ = buckets.take(key, burst: 0, nodelay: false, now: 0) }
        _ = buckets.take("a", burst: 0, nodelay: false, now: 10)  // "a" is now the most recent; "b" the oldest
        #expect(buckets.take("d", burst: 0, nodelay: false, now: 20) == .pass)
        #expect(buckets.count == 3)
        #expect(!buckets.contains("b"))
        #expect(buckets.contains("a") && buckets.contains("c") && buckets.contains("d"))
        // "a" kept its bucket (the refusal at 10 ms did not count): still refused within its interval.
        #expect(buckets.take("a", burst: 0, nodelay: false, now: 30) == .refuse(retryAfterMilliseconds: 70))
        // Thousands of keys through a small table: the count stays at the capacity.
        for index in 0..<5_000 { _ = buckets.take("k\(index)", burst: 0, nodelay: false, now: 40) }
        #expect(buckets.count == 3)
    }

    @Test func aKeyIdleForDaysStartsAfresh() {
        var buckets = buckets()
        _ = buckets.take("a", burst: 0, nodelay: false, now: 0)
        #expect(buckets.take("a", burst: 0, nodelay: false, now: 5 * 86_400_000) == .pass)
    }

    @Test func theZoneBudgetSetsItsCapacityAndLongKeysAreShortened() {
        var config = RateLimitConfig()
        config.memory = .mebibytes(1)
        let zone = RateLimitZone(name: "z", settings: config.zoneSettings)
        #expect(zone.capacity == (1 << 20) / RateLimitZone.bytesPerKey)
        let long = String(repeating: "k", count: 500)
        let stored = RateLimitZone.storedKey(long)
        #expect(stored.utf8.count <= RateLimitZone.maxKeyLength)
        #expect(stored != RateLimitZone.storedKey(long + "x"))
        #expect(RateLimitZone.storedKey("2001:db8::1") == "2001:db8::1")
    }

    @Test func ratesParseAsNginxWritesThem() {
        #expect(RateLimitConfig.parseRate("10/s") == 600_000)
        #expect(RateLimitConfig.parseRate("10r/s") == 600_000)
        #expect(RateLimitConfig.parseRate("1r/m") == 1_000)
        #expect(RateLimitConfig.parseRate("0/s") == nil)
        #expect(RateLimitConfig.parseRate("10/h") == nil)
        #expect(RateLimitConfig.parseRate("fast") == nil)
    }

    @Test func configIsDecodedAndCheckedPerRoute() throws {
        let directory = TestDirectory()
        directory.makeDirectory("www")
        let file = directory.write(
            "edge.yaml",
            """
            routes:
              - {prefix: /api/, dir: www, rate_limit: {rate: 5/s, burst: 10, nodelay: true, key: "header:X-Api-Key", zone: api, memory: 64KiB, status: 503, dry_run: true}}
              - {prefix: /, dir: www}
            """)
        let limit = try #require(try EdgeConfig.load(from: file).config.routes[0].rateLimit)
        #expect(limit.milliRequestsPerMinute == 300_000 && limit.burst == 10 && limit.nodelay && limit.dryRun)
        #expect(limit.key == .header("x-api-key") && limit.zone == "api" && limit.status == 503)
        #expect(limit.memory == .kibibytes(64))

        let bad = directory.write(
            "bad.yaml",
            """
            routes:
              - {prefix: /a/, dir: www, rate_limit: {rate: 10/h, key: ip, status: 200, burst: -1}}
              - {prefix: /b/, dir: www, rate_limit: {rate: 1/s, zone: shared}}
              - {prefix: /c/, dir: www, rate_limit: {rate: 2/s, zone: shared}}
              - {prefix: /d/, dir: www, rate_limit: {burst: 2}}
            """)
        #expect(throws: ConfigProblems.self) { try EdgeConfig.load(from: bad) }
        do {
            _ = try EdgeConfig.load(from: bad)
        } catch let error as ConfigProblems {
            let found = error.problems.map { "\($0.keyPath): \($0.message)" }
            for expected in [
                "routes[0].rate_limit.rate: invalid rate '10/h'", "routes[0].rate_limit.key: invalid key 'ip'",
                "routes[0].rate_limit.status: must be an error status", "routes[0].rate_limit.burst: must be 0",
                "routes[2].rate_limit: zone 'shared' is shared", "routes[3].rate_limit: missing required key 'rate'",
            ] {
                #expect(found.contains { $0.hasPrefix(expected) }, "\(expected) not in \(found)")
            }
        }
    }

    @Test func aReloadKeepsAZoneWhoseSettingsDidNotChange() {
        var route = RouteConfig(prefix: "/api/", dir: "/srv")
        route.rateLimit = RateLimitConfig()
        let zones = RateLimitZones()
        let first = zones.limits(for: [route])[0]?.zone
        // burst and nodelay are the route's: the zone (its buckets) stays.
        route.rateLimit?.burst = 5
        let second = zones.limits(for: [route])[0]?.zone
        #expect(first != nil && first === second)
        // A new rate is a new zone.
        route.rateLimit?.milliRequestsPerMinute = 120_000
        let third = zones.limits(for: [route])[0]?.zone
        #expect(third !== second)
        // Routes naming one zone share it.
        var other = RouteConfig(prefix: "/other/", dir: "/srv")
        other.rateLimit = route.rateLimit
        route.rateLimit?.zone = "shared"
        other.rateLimit?.zone = "shared"
        let limits = zones.limits(for: [route, other])
        #expect(limits[0]?.zone === limits[1]?.zone)
    }
}
