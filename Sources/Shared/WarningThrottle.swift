import NIOCore

/// Lets a repeated warning through at most once per interval, counting what happened in between: a condition that
/// lasts (connections refused at `max_connections`, a full disk under the access log, no file descriptors left) is
/// said once a second with a count, not once per occurrence.
public struct WarningThrottle: Sendable {
    private let interval: TimeAmount
    private var last: NIODeadline?
    private var held = 0

    public init(interval: TimeAmount = .seconds(1)) {
        self.interval = interval
    }

    /// Notes `count` more occurrences. Returns the total to report, these included, when a warning is due (and
    /// starts counting afresh), `nil` while the last one is still recent.
    public mutating func note(_ count: Int = 1, now: NIODeadline = .now()) -> Int? {
        held += count
        if let last, now - last < interval { return nil }
        last = now
        defer { held = 0 }
        return held
    }
}
