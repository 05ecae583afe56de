import Logging
import NIOConcurrencyHelpers
import NIOCore
import Shared

/// What every connection of a worker shares.
///
/// The app is held as an existential rather than a generic parameter: generic handler types made the runtime
/// look up type metadata on every request (~5 % of a worker's time in the profile).
struct WorkerContext: Sendable {
    var app: any HTTPApplication
    var forwarded: ForwardedPolicy
    var keepalive: TimeAmount
    var logger: Logger
    var board: StatusBoard?
    var requests: RequestCounter
    var limits: HTTP1RequestParser.Limits
    /// Each event loop's access-log batch.
    var accessLogs: PerLoop<AccessLogBuffer>
    /// Each event loop's request counts on the status board, for the master's metrics; `nil` without an admin
    /// listener, so nothing is counted.
    var requestStats: PerLoop<WorkerRequestStats.Slot>?
}

/// Counts this worker's requests and says once when `max_requests` is reached.
final class RequestCounter: Sendable {
    private let count = NIOLockedValueBox(0)
    private let limit: Int?
    private let onLimit: @Sendable () -> Void

    /// `limit` nil or 0: never retire.
    init(limit: Int?, onLimit: @escaping @Sendable () -> Void) {
        self.limit = limit.flatMap { $0 > 0 ? $0 : nil }
        self.onLimit = onLimit
    }

    func increment() {
        let reached = count.withLockedValue { count -> Bool in
            count += 1
            return count == limit
        }
        if reached { onLimit() }
    }
}
