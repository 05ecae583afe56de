import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Synchronization

/// The reference app's data in PostgreSQL (`database: postgres://…`), through postgres-nio: its client is a pool
/// of connections made as requests need them (at most `database_pool`), and, unlike binding libpq, whose calls block,
/// it never stalls the worker's event loop.
final class PostgresStore: AppDatabase {
    private let client: PostgresClient
    private let running: Task<Void, Never>
    private let logger: Logger
    private let connectFailures: ConnectFailureLog

    /// Connections live on `eventLoopGroup` when given (the worker's loops: no thread hop between a query and the
    /// request that asked), otherwise on postgres-nio's own.
    init(location: PostgresLocation, poolSize: Int, eventLoopGroup: (any EventLoopGroup)?, logger: Logger) {
        var configuration: PostgresClient.Configuration
        switch location.address {
        case .unixSocket(let path):
            configuration = .init(
                unixSocketPath: path, username: location.user, password: location.password,
                database: location.database)
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: location.user, password: location.password,
                database: location.database,
                tls: location.requiresTLS ? .require(.makeClientConfiguration()) : .disable)
        }
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = poolSize
        // A server that is down is known within a second: the request gets 503 rather than waiting.
        configuration.options.connectTimeout = .seconds(1)
        // The pool's own log says each failed connection attempt, several a second while the server is down; the
        // app says it once a second instead. The lines are only noted, as the sign that the server cannot be
        // reached (rather than slow).
        let connectFailures = ConnectFailureLog()
        self.connectFailures = connectFailures
        let background = Logger(label: logger.label) { _ in connectFailures }
        let client = PostgresClient(
            configuration: configuration, eventLoopGroup: eventLoopGroup ?? PostgresClient.defaultEventLoopGroup,
            backgroundLogger: background)
        self.client = client
        self.logger = logger
        running = Task { await client.run() }
    }

    /// How long a request's database work may take before it is answered 503.
    private static let requestLimit = Duration.seconds(5)
    /// How long making the schema and filling empty tables may take (a worker's boot waits for it).
    private static let migrateLimit = Duration.seconds(5)
    /// How long loading the data anew (`--run init-db`) may take.
    private static let loadLimit = Duration.seconds(60)

    func migrate() async throws {
        try await timed(Self.migrateLimit) { try await self.migrateNow() }
    }

    private func migrateNow() async throws {
        try await client.withTransaction(logger: logger) { connection in
            // Workers boot together: one at a time creates and fills (CREATE TABLE IF NOT EXISTS races otherwise).
            // The lock is this database's: apps with databases of their own on one server do not wait for each other.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtext('appserver migrate ' || current_database()))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS world (id integer PRIMARY KEY, randomnumber integer NOT NULL)",
                logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS fortune (id integer PRIMARY KEY, message text NOT NULL)", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS uploads (id bigserial PRIMARY KEY, name text NOT NULL, size bigint NOT NULL,
                sha256 text NOT NULL, content_type text NOT NULL, stored_at double precision NOT NULL)
                """, logger: logger)
            try await Self.fill(connection, replacing: false, logger: logger)
        }
    }

    func reload() async throws {
        try await timed(Self.loadLimit) {
            try await self.client.withTransaction(logger: self.logger) { connection in
                try await Self.fill(connection, replacing: true, logger: self.logger)
            }
        }
    }

    private static func fill(_ connection: PostgresConnection, replacing: Bool, logger: Logger) async throws {
        let worldConflict = replacing ? "DO UPDATE SET randomnumber = excluded.randomnumber" : "DO NOTHING"
        try await connection.query(
            """
            INSERT INTO world (id, randomnumber)
            SELECT n, 1 + floor(random() * \(unescaped: String(AppDatabases.worldCount)))::integer
            FROM generate_series(1, \(unescaped: String(AppDatabases.worldCount))) AS n
            ON CONFLICT (id) \(unescaped: worldConflict)
            """, logger: logger)
        for fortune in Fortunes.stored {
            let conflict = replacing ? "DO UPDATE SET message = excluded.message" : "DO NOTHING"
            try await connection.query(
                "INSERT INTO fortune (id, message) VALUES (\(fortune.id), \(fortune.message)) ON CONFLICT (id) \(unescaped: conflict)",
                logger: logger)
        }
    }

    func world(id: Int) async throws -> World? {
        try await worlds(ids: [id]).first
    }

    func worlds(ids: [Int]) async throws -> [World] {
        try await timed(Self.requestLimit) { try await self.fetchWorlds(ids: ids) }
    }

    private func fetchWorlds(ids: [Int]) async throws -> [World] {
        try await client.withConnection { connection in
            var found: [World] = []
            for id in ids {
                let rows = try await connection.query(
                    "SELECT id, randomnumber FROM world WHERE id = \(Int32(id))", logger: logger)
                for try await (id, number) in rows.decode((Int32, Int32).self) {
                    found.append(World(id: Int(id), randomNumber: Int(number)))
                }
            }
            return found
        }
    }

    func allWorlds() async throws -> [World] {
        try await timed(Self.migrateLimit) { try await self.fetchAllWorlds() }
    }

    private func fetchAllWorlds() async throws -> [World] {
        var found: [World] = []
        let rows = try await client.query("SELECT id, randomnumber FROM world", logger: logger)
        for try await (id, number) in rows.decode((Int32, Int32).self) {
            found.append(World(id: Int(id), randomNumber: Int(number)))
        }
        return found
    }

    func update(_ worlds: [World]) async throws {
        try await timed(Self.requestLimit) { try await self.write(worlds) }
    }

    private func write(_ worlds: [World]) async throws {
        try await client.withTransaction(logger: logger) { connection in
            for world in worlds {
                try await connection.query(
                    "UPDATE world SET randomnumber = \(Int32(world.randomNumber)) WHERE id = \(Int32(world.id))",
                    logger: logger)
            }
        }
    }

    func fortunes() async throws -> [Fortune] {
        try await timed(Self.requestLimit) { try await self.fetchFortunes() }
    }

    private func fetchFortunes() async throws -> [Fortune] {
        var found: [Fortune] = []
        let rows = try await client.query("SELECT id, message FROM fortune", logger: logger)
        for try await (id, message) in rows.decode((Int32, String).self) {
            found.append(Fortune(id: Int(id), message: message))
        }
        return found
    }

    func insert(_ upload: StoredUpload) async throws {
        try await timed(Self.requestLimit) { try await self.record(upload) }
    }

    private func record(_ upload: StoredUpload) async throws {
        try await client.query(
            """
            INSERT INTO uploads (name, size, sha256, content_type, stored_at)
            VALUES (\(upload.name), \(Int64(upload.size)), \(upload.sha256), \(upload.contentType),
            \(upload.storedAt.timeIntervalSince1970))
            """, logger: logger)
    }

    func recentUploads(limit: Int) async throws -> [StoredUpload] {
        try await timed(Self.requestLimit) { try await self.fetchRecentUploads(limit: limit) }
    }

    private func fetchRecentUploads(limit: Int) async throws -> [StoredUpload] {
        var found: [StoredUpload] = []
        let rows = try await client.query(
            "SELECT name, size, sha256, content_type, stored_at FROM uploads ORDER BY id DESC LIMIT \(Int64(limit))",
            logger: logger)
        for try await (name, size, sha256, type, time) in rows.decode((String, Int64, String, String, Double).self) {
            found.append(
                StoredUpload(
                    name: name, size: Int(size), sha256: sha256, contentType: type,
                    storedAt: Date(timeIntervalSince1970: time)))
        }
        return found
    }

    /// `withinTime`, with a time limit that passes while connections fail reported as the server being
    /// unreachable (not merely slow).
    private func timed<Result: Sendable>(
        _ limit: Duration, _ operation: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        do {
            return try await withinTime(limit, operation)
        } catch var exceeded as TimeLimitExceeded {
            exceeded.unreachable = connectFailures.failedLately
            throw exceeded
        }
    }

    func close() async {
        running.cancel()
        _ = await running.value
    }
}

/// postgres-nio's background log, kept only for what it says about connecting: the time of the last failed
/// attempt.
///
/// At `info`, where postgres-nio reports a failed attempt: below it, the pool logs each lease and release of a
/// connection, and building and searching those lines took more than half of a worker's CPU on `/db`.
private final class ConnectFailureLog: LogHandler, @unchecked Sendable {  // the time is behind a lock
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    private let lastFailure = Mutex<ContinuousClock.Instant?>(nil)

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// A connection attempt failed within the last 10 s.
    var failedLately: Bool {
        lastFailure.withLock { $0.map { ContinuousClock.now - $0 < .seconds(10) } ?? false }
    }

    func log(event: LogEvent) {
        guard "\(event.message)".localizedCaseInsensitiveContains("connection creation failed") else { return }
        let now = ContinuousClock.now
        lastFailure.withLock { $0 = now }
    }
}
