import NIOCore

/// A `WarningThrottle` per client address: a client that keeps misbehaving is reported at most once per interval,
/// with a count of what happened in between, while every other client is still reported at once.
///
/// The table is bounded: when it is full, entries whose interval has passed are dropped first, then (a flood from
/// many addresses) all of them, so memory stays fixed at the cost of a few more lines.
public struct PerClientWarningThrottle: Sendable {
    private let interval: TimeAmount
    private let capacity: Int
    private var clients: [String: (throttle: WarningThrottle, lastSeen: NIODeadline)] = [:]

    public init(interval: TimeAmount = .seconds(1), capacity: Int = 4096) {
        self.interval = interval
        self.capacity = capacity
    }

    /// Notes one occurrence for `client`. Returns how many to report (this one included) when a line is due, `nil`
    /// while the client's last line is still recent.
    public mutating func note(client: String, now: NIODeadline = .now()) -> Int? {
        if clients[client] == nil && clients.count >= capacity { makeRoom(now: now) }
        var entry = clients[client] ?? (WarningThrottle(interval: interval), now)
        entry.lastSeen = now
        defer { clients[client] = entry }
        return entry.throttle.note(now: now)
    }

    private mutating func makeRoom(now: NIODeadline) {
        clients = clients.filter { now - $0.value.lastSeen < interval }
        if clients.count >= capacity { clients.removeAll(keepingCapacity: true) }
    }
}
