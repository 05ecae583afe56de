import CoreMetrics

/// Durations counted in the buckets of Prometheus' duration histograms (`MetricsRegistry.durationBuckets`), with
/// each bucket's sum: what an event loop or a worker counts on its own, without a lock, and hands to the shared
/// histogram later.
///
/// Keeping each bucket's sum (not only the total) lets `increase(since:)` give values that, recorded into a
/// histogram, reproduce exactly these bucket counts, count and sum.
public struct BucketedDurations: Equatable, Sendable {
    /// Upper bounds in nanoseconds; a last bucket takes everything above.
    public static let bounds: [UInt64] = MetricsRegistry.durationBuckets.map {
        UInt64($0.components.seconds) * 1_000_000_000 + UInt64($0.components.attoseconds / 1_000_000_000)
    }
    public static let bucketCount = bounds.count + 1

    public var counts = [UInt64](repeating: 0, count: bucketCount)
    public var sums = [UInt64](repeating: 0, count: bucketCount)

    public init() {}

    public var count: UInt64 { counts.reduce(0, &+) }

    public mutating func record(nanoseconds: Int64) {
        let duration = UInt64(max(0, nanoseconds))
        let bucket = Self.bucket(of: duration)
        counts[bucket] &+= 1
        sums[bucket] &+= duration
    }

    public mutating func add(_ other: BucketedDurations) {
        for index in 0..<Self.bucketCount {
            counts[index] &+= other.counts[index]
            sums[index] &+= other.sums[index]
        }
    }

    /// The bucket a duration falls in.
    public static func bucket(of nanoseconds: UInt64) -> Int {
        bounds.firstIndex { nanoseconds <= $0 } ?? bounds.count
    }

    /// Durations (nanoseconds) and how many times to record each, so that a histogram that had `previous` gets
    /// these bucket counts, count and sum exactly: each bucket's new durations are recorded at their mean, spread
    /// by a nanosecond so the sum is exact. The mean of values in a bucket lies in that bucket, so every value lands
    /// where it was counted.
    public func increase(since previous: BucketedDurations) -> [(nanoseconds: Int64, times: Int)] {
        var values: [(nanoseconds: Int64, times: Int)] = []
        for index in 0..<Self.bucketCount where counts[index] > previous.counts[index] {
            let count = counts[index] - previous.counts[index]
            let sum = sums[index] &- previous.sums[index]
            let (mean, remainder) = sum.quotientAndRemainder(dividingBy: count)
            if remainder > 0 { values.append((Int64(mean + 1), Int(remainder))) }
            if count > remainder { values.append((Int64(mean), Int(count - remainder))) }
        }
        return values
    }

    /// Records `values` (from `increase(since:)`) into a histogram of seconds, each its number of times. The
    /// histogram is a swift-metrics handler from the factory, not a `Recorder`: `Recorder.record` is generic and
    /// converts each value through dynamic casts, which tripled the cost of recording in bulk.
    public static func record(_ values: [(nanoseconds: Int64, times: Int)], in histogram: any RecorderHandler) {
        for (nanoseconds, times) in values {
            let seconds = Double(nanoseconds) / 1e9
            for _ in 0..<times { histogram.record(seconds) }
        }
    }
}
