/// The state of one rate-limit zone: a leaky bucket per key, with nginx's `limit_req` arithmetic, in a table of
/// bounded size that evicts the least recently used key when full.
///
/// Pure logic: time comes in as milliseconds from any fixed origin, so tests drive it with their own clock.
struct LeakyBuckets {
    enum Decision: Equatable {
        /// Within the rate, or within the burst with `nodelay`: serve now.
        case pass
        /// Within the burst: serve after this many milliseconds, which releases such requests at the rate.
        case delay(milliseconds: Int)
        /// Beyond the burst: refuse. The bucket has room again after this many milliseconds.
        case refuse(retryAfterMilliseconds: Int)
    }

    private struct Bucket {
        var key: String
        /// Requests not yet drained, in thousandths (nginx's `excess`).
        var excess: Int
        /// When `excess` was last updated.
        var last: Int
        /// Neighbours in recency order, as indices into `buckets` (-1: none).
        var newer: Int32
        var older: Int32
    }

    /// Thousandths of a request drained per minute: fine enough that `1/m` is exact.
    private let milliRequestsPerMinute: Int
    let capacity: Int
    private var positions: [String: Int32] = [:]
    private var buckets: [Bucket] = []
    private var newest: Int32 = -1
    private var oldest: Int32 = -1

    init(milliRequestsPerMinute: Int, capacity: Int) {
        precondition(milliRequestsPerMinute > 0 && capacity > 0)
        self.milliRequestsPerMinute = milliRequestsPerMinute
        self.capacity = capacity
    }

    var count: Int { buckets.count }

    /// Counts a request for `key` at `now` and says what becomes of it. A refused request is not counted, so a
    /// client that keeps knocking gets in again at the rate (as nginx does).
    mutating func take(_ key: String, burst: Int, nodelay: Bool, now: Int) -> Decision {
        guard let position = positions[key] else {
            insert(key, now: now)
            return .pass
        }
        let index = Int(position)
        let bucket = buckets[index]
        // Bounded, so a key idle for days cannot overflow the product; 1,000 minutes drain any bucket.
        let elapsed = min(max(0, now - bucket.last), 60_000_000)
        let excess = max(0, bucket.excess - milliRequestsPerMinute * elapsed / 60_000 + 1000)
        markNewest(position)
        let allowed = burst * 1000
        if excess > allowed {
            let waitMilliseconds = ((excess - allowed) * 60_000 + milliRequestsPerMinute - 1) / milliRequestsPerMinute
            return .refuse(retryAfterMilliseconds: waitMilliseconds)
        }
        buckets[index].excess = excess
        buckets[index].last = now
        if excess == 0 || nodelay { return .pass }
        return .delay(milliseconds: excess * 60_000 / milliRequestsPerMinute)
    }

    /// A new key's bucket, empty; when the table is full it takes the place of the least recently used key.
    private mutating func insert(_ key: String, now: Int) {
        let fresh = Bucket(key: key, excess: 0, last: now, newer: -1, older: -1)
        let position: Int32
        if buckets.count < capacity {
            position = Int32(buckets.count)
            buckets.append(fresh)
        } else {
            position = oldest
            unlink(position)
            positions[buckets[Int(position)].key] = nil
            buckets[Int(position)] = fresh
        }
        positions[key] = position
        linkAsNewest(position)
    }

    private mutating func markNewest(_ position: Int32) {
        guard position != newest else { return }
        unlink(position)
        linkAsNewest(position)
    }

    private mutating func unlink(_ position: Int32) {
        let (newer, older) = (buckets[Int(position)].newer, buckets[Int(position)].older)
        if newer >= 0 { buckets[Int(newer)].older = older } else { newest = older }
        if older >= 0 { buckets[Int(older)].newer = newer } else { oldest = newer }
    }

    private mutating func linkAsNewest(_ position: Int32) {
        buckets[Int(position)].newer = -1
        buckets[Int(position)].older = newest
        if newest >= 0 { buckets[Int(newest)].newer = position }
        newest = position
        if oldest < 0 { oldest = position }
    }

    /// Whether `key` still has a bucket (not evicted), for tests.
    func contains(_ key: String) -> Bool { positions[key] != nil }
}
