import AppServer
import Foundation
import Logging
import SQLiteNIO

/// The reference app's data in an SQLite file (`database: sqlite:PATH`, the default), through sqlite-nio.
final class SQLiteStore: AppDatabase {
    private static let worldCount = AppDatabases.worldCount
    private let pool: SQLitePool

    /// The file at `path` (its directory made if missing), with at most `poolSize` connections.
    init(path: String, poolSize: Int, logger: Logger) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        pool = SQLitePool(path: path, size: poolSize, logger: logger)
    }

    /// Creates the tables if missing and fills them if empty, holding the write lock throughout: workers booting
    /// together on a new file take turns. (Statements in autocommit mode read first and then ask for the write
    /// lock; one that finds another worker has written meanwhile fails with "database is locked" at once, without
    /// waiting `busy_timeout`.)
    func migrate() async throws {
        try await pool.withConnection { connection in
            try await Self.transaction(on: connection) {
                try await Self.createAndFill(connection)
            }
        }
    }

    private static func createAndFill(_ connection: SQLiteConnection) async throws {
        _ = try await connection.query(
            "CREATE TABLE IF NOT EXISTS World (id INTEGER PRIMARY KEY, randomNumber INTEGER NOT NULL)")
        _ = try await connection.query(
            "CREATE TABLE IF NOT EXISTS Fortune (id INTEGER PRIMARY KEY, message TEXT NOT NULL)")
        _ = try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS uploads (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
            size INTEGER NOT NULL, sha256 TEXT NOT NULL, content_type TEXT NOT NULL, stored_at REAL NOT NULL)
            """)
        let worlds = try await connection.query("SELECT COUNT(*) AS n FROM World").first?.column("n")?.integer
        if (worlds ?? 0) < worldCount { try await fill(connection, replacing: false) }
    }

    /// Loads the data anew: every world gets a new random number, and the fortunes are TechEmpower's again.
    func reload() async throws {
        try await pool.withConnection { connection in
            try await Self.transaction(on: connection) { try await Self.fill(connection, replacing: true) }
        }
    }

    /// Writes every world and fortune; the caller holds a transaction.
    private static func fill(_ connection: SQLiteConnection, replacing: Bool) async throws {
        let verb = replacing ? "INSERT OR REPLACE" : "INSERT OR IGNORE"
        for start in stride(from: 1, through: worldCount, by: 500) {
            let ids = start..<min(start + 500, worldCount + 1)
            let values = ids.map { "(\($0), \(Int.random(in: 1...worldCount)))" }.joined(separator: ",")
            _ = try await connection.query("\(verb) INTO World (id, randomNumber) VALUES \(values)")
        }
        for fortune in Fortunes.stored {
            _ = try await connection.query(
                "\(verb) INTO Fortune (id, message) VALUES (?, ?)", [.integer(fortune.id), .text(fortune.message)])
        }
    }

    /// Runs `body` in a transaction that takes the write lock at once (so two workers never both read, then both
    /// wait to write); rolled back if `body` throws.
    private static func transaction(on connection: SQLiteConnection, _ body: () async throws -> Void) async throws {
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            try await body()
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }

    /// The world with `id`.
    func world(id: Int) async throws -> World? {
        try await pool.withConnection { connection in
            try await connection.query("SELECT id, randomNumber FROM World WHERE id = ?", [.integer(id)]).first
                .flatMap(Self.world)
        }
    }

    /// The worlds with `ids`, each fetched by its own query (TechEmpower's rule for `/queries`), on one
    /// connection.
    func worlds(ids: [Int]) async throws -> [World] {
        try await pool.withConnection { connection in
            var found: [World] = []
            for id in ids {
                let row = try await connection.query(
                    "SELECT id, randomNumber FROM World WHERE id = ?", [.integer(id)]
                ).first
                if let world = row.flatMap(Self.world) { found.append(world) }
            }
            return found
        }
    }

    /// Every world, for the in-process cache of `/cached-queries`.
    func allWorlds() async throws -> [World] {
        try await pool.withConnection { connection in
            try await connection.query("SELECT id, randomNumber FROM World").compactMap(Self.world)
        }
    }

    /// Writes `worlds`' random numbers in one transaction.
    func update(_ worlds: [World]) async throws {
        try await pool.withConnection { connection in
            try await Self.transaction(on: connection) {
                for world in worlds {
                    _ = try await connection.query(
                        "UPDATE World SET randomNumber = ? WHERE id = ?",
                        [.integer(world.randomNumber), .integer(world.id)])
                }
            }
        }
    }

    /// Every fortune.
    func fortunes() async throws -> [Fortune] {
        try await pool.withConnection { connection in
            try await connection.query("SELECT id, message FROM Fortune").compactMap { row in
                guard let id = row.column("id")?.integer, let message = row.column("message")?.string else {
                    return nil
                }
                return Fortune(id: id, message: message)
            }
        }
    }

    /// Records an upload (a file stored again under the same name gets a row of its own).
    func insert(_ upload: StoredUpload) async throws {
        try await pool.withConnection { connection in
            _ = try await connection.query(
                "INSERT INTO uploads (name, size, sha256, content_type, stored_at) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(upload.name), .integer(upload.size), .text(upload.sha256), .text(upload.contentType),
                    .float(upload.storedAt.timeIntervalSince1970),
                ])
        }
    }

    /// The latest `limit` uploads, newest first.
    func recentUploads(limit: Int) async throws -> [StoredUpload] {
        try await pool.withConnection { connection in
            try await connection.query(
                "SELECT name, size, sha256, content_type, stored_at FROM uploads ORDER BY id DESC LIMIT ?",
                [.integer(limit)]
            ).compactMap { row in
                guard let name = row.column("name")?.string, let size = row.column("size")?.integer,
                    let sha256 = row.column("sha256")?.string, let type = row.column("content_type")?.string,
                    let time = row.column("stored_at")?.double
                else { return nil }
                return StoredUpload(
                    name: name, size: size, sha256: sha256, contentType: type,
                    storedAt: Date(timeIntervalSince1970: time))
            }
        }
    }

    func close() async {
        await pool.close()
    }

    private static func world(_ row: SQLiteRow) -> World? {
        guard let id = row.column("id")?.integer, let number = row.column("randomNumber")?.integer else { return nil }
        return World(id: id, randomNumber: number)
    }
}
