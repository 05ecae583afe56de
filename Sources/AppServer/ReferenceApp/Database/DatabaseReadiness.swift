import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The reference app's database and whether it is ready: schema made, data there, the world cache read. A
/// database that is down at boot does not stop the worker (its other routes serve); its routes answer 503 until
/// a request finds it reachable and readies it.
///
/// After a failure to reach it, requests for the next second are answered at once without trying, so a database
/// that is down costs a burst of requests one wait, not one each. A ready database that is merely slow (a query
/// past its time limit under load, while connections to it succeed) fails that request alone.
final class DatabaseReadiness: Sendable {
    let database: any AppDatabase
    private let state = Mutex<(ready: Bool, cache: [World], failedAt: ContinuousClock.Instant?, cause: String)>(
        (false, [], nil, ""))

    init(database: any AppDatabase) {
        self.database = database
    }

    /// The database and the world cache once ready; readies them first if they are not (throws if it cannot).
    func ready() async throws -> (database: any AppDatabase, cache: [World]) {
        let (isReady, cache, failedAt, cause) = state.withLock { ($0.ready, $0.cache, $0.failedAt, $0.cause) }
        if let failedAt, ContinuousClock.now - failedAt < .seconds(1) {
            throw DatabaseUnavailable(reason: "failed less than a second ago: \(cause)")
        }
        if isReady { return (database, cache) }
        do {
            try await database.migrate()
            let worlds = try await database.allWorlds()
            state.withLock {
                $0.ready = true
                $0.cache = worlds
            }
            return (database, worlds)
        } catch {
            failed(error)
            throw error
        }
    }

    /// A request found the database failing: the next second's requests are answered without trying, unless the
    /// database is ready and the failure is only a slow answer.
    func failed(_ error: any Error) {
        let now = ContinuousClock.now
        state.withLock {
            if $0.ready, let exceeded = error as? TimeLimitExceeded, !exceeded.unreachable { return }
            $0.failedAt = now
            $0.cause = "\(error)"
        }
    }
}

/// Runs `operation`, giving up after `limit`: a database that stopped answering gets its requests a 503 then,
/// rather than holding them (postgres-nio's pool waits for a connection for as long as it takes).
func withinTime<Result: Sendable>(
    _ limit: Duration, _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await sleepOnEventLoop(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else { throw TimeLimitExceeded(limit: limit) }
        return result
    }
}

/// `Task.sleep`, on the timers of the event loop the task runs on (a worker's app code runs on its connection's
/// loop): Swift's own sleep hands each timer to a thread of its own and back, and every query of a request is
/// timed. Off an event loop, Swift's sleep.
private func sleepOnEventLoop(for limit: Duration) async throws {
    guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return try await Task.sleep(for: limit) }
    let timer = loop.scheduleTask(in: TimeAmount(limit)) {}
    try await withTaskCancellationHandler {
        try await timer.futureResult.get()
    } onCancel: {
        timer.cancel()
    }
}

/// The database did not answer within its time limit: down, unreachable, or overloaded.
struct TimeLimitExceeded: Error, CustomStringConvertible {
    var limit: Duration
    /// Set when connecting to the database failed meanwhile: it is down or unreachable, not slow.
    var unreachable = false
    var description: String {
        "no answer from the database within \(limit) (is it running, reachable as configured, and not overloaded?)"
    }
}
