import Shared

/// A worker's request counts as its status board holds them: responses by status class, requests started and
/// finished, and durations in the buckets of `appserver_request_duration_seconds`, with each bucket's sum.
///
/// Workers count; the master reads every worker's board when scraped and adds what changed since its last read to
/// its own metrics (`BucketedDurations.increase(since:)` rebuilds the histogram exactly).
struct WorkerRequestStats: Equatable, Sendable {
    private static let bucketCount = BucketedDurations.bucketCount
    /// Bytes of one event loop's slot on the board: 5 status classes, started, finished, then a count and a sum
    /// per bucket, in 64 words.
    static let slotBytes = 64 * 8

    var byStatusClass = [UInt64](repeating: 0, count: 5)
    var started: UInt64 = 0
    var finished: UInt64 = 0
    var durations = BucketedDurations()

    var inFlight: UInt64 { started &- min(finished, started) }
    var answered: UInt64 { byStatusClass.reduce(0, &+) }

    mutating func add(_ other: WorkerRequestStats) {
        for index in 0..<5 { byStatusClass[index] &+= other.byStatusClass[index] }
        started &+= other.started
        finished &+= other.finished
        durations.add(other.durations)
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
            let bucket = BucketedDurations.bucket(of: duration)
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
                stats.durations.counts[index] = words[Self.countsIndex + index]
                stats.durations.sums[index] = words[Self.sumsIndex + index]
            }
            return stats
        }
    }
}
