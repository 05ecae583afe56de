import NIOConcurrencyHelpers
import NIOCore

/// One `rate_limit` zone: the buckets of every key, shared by all event loops (behind a lock held for a table
/// lookup), with a fixed memory budget.
final class RateLimitZone: Sendable {
    /// What one key costs at most: its table entry and bucket (about 70 bytes) plus the key's own storage (up to
    /// `maxKeyLength` bytes and a heap header). The budget `memory` holds `memory / bytesPerKey` keys.
    static let bytesPerKey = 160
    /// Longer keys (a header's value) are stored as their first 31 bytes, `#` and a hash of the whole.
    static let maxKeyLength = 48

    let name: String
    let settings: RateLimitConfig.ZoneSettings
    private let buckets: NIOLockedValueBox<LeakyBuckets>

    init(name: String, settings: RateLimitConfig.ZoneSettings) {
        self.name = name
        self.settings = settings
        self.buckets = NIOLockedValueBox(
            LeakyBuckets(
                milliRequestsPerMinute: settings.milliRequestsPerMinute,
                capacity: max(1, settings.memory.bytes / Self.bytesPerKey)))
    }

    /// How many keys the zone holds at most.
    var capacity: Int { buckets.withLockedValue { $0.capacity } }

    func take(_ key: String, burst: Int, nodelay: Bool, now: NIODeadline) -> LeakyBuckets.Decision {
        let stored = Self.storedKey(key)
        let milliseconds = Int(now.uptimeNanoseconds / 1_000_000)
        return buckets.withLockedValue { $0.take(stored, burst: burst, nodelay: nodelay, now: milliseconds) }
    }

    static func storedKey(_ key: String) -> String {
        guard key.utf8.count > maxKeyLength else { return key }
        var hasher = Hasher()
        hasher.combine(key)
        let hash = UInt64(bitPattern: Int64(hasher.finalize()))
        return String(decoding: key.utf8.prefix(31), as: UTF8.self) + "#" + String(hash, radix: 16)
    }
}
