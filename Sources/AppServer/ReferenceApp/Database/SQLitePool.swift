import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLiteNIO

/// A worker's connections to one SQLite file: opened when first needed, at most `size` at once, reused, and closed
/// when the worker stops.
///
/// SQLite's calls block, so sqlite-nio runs them on a thread pool, never on the worker's event loop; each
/// connection waits up to `busy_timeout` for another process's write lock (the other workers write the same file).
final class SQLitePool: Sendable {
    private struct State {
        var idle: [SQLiteConnection] = []
        var open = 0
        var waiters: [CheckedContinuation<SQLiteConnection?, any Error>] = []
        var closed = false
    }

    private let path: String
    private let size: Int
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    init(path: String, size: Int, logger: Logger) {
        self.path = path
        self.size = max(1, size)
        self.logger = logger
    }

    /// A pool dropped without `close()` (an app tested in process and let go) still closes its connections: each
    /// is kept alive by the task that closes it.
    deinit {
        for connection in state.withLockedValue({ $0.idle }) {
            Task { try? await connection.close() }
        }
    }

    /// Runs `body` with a connection of the pool, returned to it afterwards (closed instead if `body` threw an
    /// SQLite error, which may have left it mid-transaction).
    func withConnection<Result: Sendable>(
        _ body: @Sendable (SQLiteConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await acquire()
        do {
            let result = try await body(connection)
            release(connection)
            return result
        } catch {
            discard(connection)
            throw error
        }
    }

    /// Closes every idle connection; connections in use are closed as they come back.
    func close() async {
        let idle = state.withLockedValue { state -> [SQLiteConnection] in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for connection in idle { try? await connection.close() }
    }

    private func acquire() async throws -> SQLiteConnection {
        enum Next { case use(SQLiteConnection), open, wait }
        let next = try state.withLockedValue { state -> Next in
            guard !state.closed else { throw DatabaseUnavailable(reason: "the worker is stopping") }
            if let connection = state.idle.popLast() { return .use(connection) }
            if state.open < size {
                state.open += 1
                return .open
            }
            return .wait
        }
        switch next {
        case .use(let connection):
            return connection
        case .open:
            do {
                return try await openConnection()
            } catch {
                let waiter = state.withLockedValue { state -> CheckedContinuation<SQLiteConnection?, any Error>? in
                    state.open -= 1
                    return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
                }
                waiter?.resume(returning: nil)  // it tries to open one itself
                throw error
            }
        case .wait:
            let handed = try await withCheckedThrowingContinuation { continuation in
                state.withLockedValue { $0.waiters.append(continuation) }
            }
            if let handed { return handed }
            return try await acquire()
        }
    }

    private func openConnection() async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: logger,
            on: MultiThreadedEventLoopGroup.singleton.any())
        do {
            // A busy file is waited for, not failed at once (set first: switching to WAL takes a lock too, which
            // the other workers booting at the same moment contend for); WAL lets readers go on while one
            // process writes.
            _ = try await connection.query("PRAGMA busy_timeout = 5000")
            _ = try await connection.query("PRAGMA journal_mode = WAL")
            _ = try await connection.query("PRAGMA synchronous = NORMAL")
            return connection
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private func release(_ connection: SQLiteConnection) {
        let (waiter, close) = state.withLockedValue {
            state -> (CheckedContinuation<SQLiteConnection?, any Error>?, Bool) in
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), false) }
            if state.closed {
                state.open -= 1
                return (nil, true)
            }
            state.idle.append(connection)
            return (nil, false)
        }
        if let waiter { waiter.resume(returning: connection) }
        if close { Task { try? await connection.close() } }
    }

    private func discard(_ connection: SQLiteConnection) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<SQLiteConnection?, any Error>? in
            state.open -= 1
            return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
        }
        waiter?.resume(returning: nil)
        Task { try? await connection.close() }
    }
}

/// The database cannot be used now (it is down, locked past its timeout, or the worker is stopping): the app
/// answers 503.
struct DatabaseUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
