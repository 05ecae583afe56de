/// Requests per second over the last minute, from a running total sampled about once a second (the status page's
/// figure, like the rate nginx users compute from stub_status).
///
/// Pure: the caller passes the time, so tests drive it with a fake clock.
public struct RequestRate: Sendable {
    /// The window the rate is taken over, in seconds.
    public static let window = 60.0
    private var samples: [(time: Double, total: UInt64)] = []

    public init() {}

    /// Records the running total at `time` (seconds, any monotonic origin); drops samples older than the window.
    public mutating func sample(total: UInt64, at time: Double) {
        samples.append((time, total))
        // Keep one sample at or before the window's start, so the rate always spans the full window once it can.
        while samples.count > 2, samples[1].time <= time - Self.window { samples.removeFirst() }
    }

    /// Requests per second between the oldest kept sample and the newest; 0 until two samples exist.
    public var perSecond: Double {
        guard let first = samples.first, let last = samples.last, last.time > first.time else { return 0 }
        return Double(last.total &- first.total) / (last.time - first.time)
    }
}
