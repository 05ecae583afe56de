import Shared

/// A worker's request counts as its status board holds them: responses by status class, requests started and
/// finished, and durations in the buckets of `appserver_request_duration_seconds`, with each bucket's sum.
///
/// Workers count; the master reads every worker's board when scraped and adds what changed since its last read to
/// its own metrics. Keeping each bucket's sum (not only the total) lets the master record values that give the
/// histogram exactly the worker's bucket counts, count and sum (`histogramIncrease(since:)`).
struct WorkerRequestStats: Equatable, Sendable {
    /// Upper bounds in nanoseconds; a last bucket takes everything above.
    static let bucketBounds: [UInt64] = MetricsRegistry.durationBuckets.map {
        UInt64($0.components.seconds) * 1_000_000_000 + UInt64($0.components.attoseconds / 1_000_000_000)
    }
    private static let bucketCount = bucketBounds.count + 1
    /// Bytes of one event loop's slot on the board: 5 status classes, started, finished, then a count and a sum
    /// per bucket, in 64 words.
    static let slotBytes = 64 * 8

    var byStatusClass = [UInt64](repeating: 0, count: 5)
    var started: UInt64 = 0
    var finished: UInt64 = 0
    var bucketCounts = [UInt64](repeating: 0, count: bucketCount)
    var bucketSums = [UInt64](repeating: 0, count: bucketCount)

    var inFlight: UInt64 { started &- min(finished, started) }
    var answered: UInt64 { byStatusClass.reduce(0, &+) }

    mutating func add(_ other: WorkerRequestStats) {
        for index in 0..<5 { byStatusClass[index] &+= other.byStatusClass[index] }
        started &+= other.started
        finished &+= other.finished
        for index in 0..<Self.bucketCount {
            bucketCounts[index] &+= other.bucketCounts[index]
            bucketSums[index] &+= other.bucketSums[index]
        }
    }

    /// Durations (nanoseconds) and how many times to record each, so that a histogram that had `previous` gets
    /// this one's bucket counts, count and sum exactly: each bucket's new requests are recorded at their mean,
    /// spread by a nanosecond so the sum is exact. The mean of values in a bucket lies in that bucket, so every
    /// value lands where the worker counted it.
    func histogramIncrease(since previous: WorkerRequestStats) -> [(nanoseconds: Int64, times: Int)] {
        var values: [(nanoseconds: Int64, times: Int)] = []
        for index in 0..<Self.bucketCount where bucketCounts[index] > previous.bucketCounts[index] {
            let count = bucketCounts[index] - previous.bucketCounts[index]
            let sum = bucketSums[index] &- previous.bucketSums[index]
            let (mean, remainder) = sum.quotientAndRemainder(dividingBy: count)
            if remainder > 0 { values.append((Int64(mean + 1), Int(remainder))) }
            if count > remainder { values.append((Int64(mean), Int(count - remainder))) }
        }
        return values
    }

    /// The bucket a duration falls in.
    static func bucket(of nanoseconds: UInt64) -> Int {
        bucketBounds.firstIndex { nanoseconds <= $0 } ?? bucketBounds.count
    }

    /// One event loop's counts in the shared memory of a status board: written by that loop only, read by the
    /// master.
    struct Slot {
        private let words: UnsafeMutablePointer<UInt64>
        private static let startedIndex = 5
        private static let finishedIndex = 6
        private static let countsIndex = 7
        private static let sumsIndex = countsIndex + bucketCount

        init(base: UnsafeMutableRawPointer) {
            words = base.assumingMemoryBound(to: UInt64.self)
        }

        func requestStarted() {
            words[Self.startedIndex] &+= 1
        }

        /// A response ended with `status` after `nanoseconds`.
        func requestFinished(status: Int, nanoseconds: Int64) {
            words[min(max(status / 100, 1), 5) - 1] &+= 1
            let duration = UInt64(max(0, nanoseconds))
            let bucket = WorkerRequestStats.bucket(of: duration)
            words[Self.countsIndex + bucket] &+= 1
            words[Self.sumsIndex + bucket] &+= duration
            words[Self.finishedIndex] &+= 1
        }

        /// A request whose connection closed before its response ended: no longer in flight, and not answered.
        func requestAbandoned() {
            words[Self.finishedIndex] &+= 1
        }

        func read() -> WorkerRequestStats {
            var stats = WorkerRequestStats()
            for index in 0..<5 { stats.byStatusClass[index] = words[index] }
            stats.started = words[Self.startedIndex]
            stats.finished = words[Self.finishedIndex]
            for index in 0..<bucketCount {
                stats.bucketCounts[index] = words[Self.countsIndex + index]
                stats.bucketSums[index] = words[Self.sumsIndex + index]
            }
            return stats
        }
    }
}
