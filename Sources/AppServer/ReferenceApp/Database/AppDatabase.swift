import AppServer
import Foundation
import Logging

/// The reference app's data: TechEmpower's `World` (10,000 rows) and `Fortune` tables, and the uploads, in the
/// database `app.database` names: `sqlite:PATH` (the default, `sqlite:var/app.db` beside the config file) or a
/// `postgres://` URL.
///
/// At boot the schema is created when missing and the tables are filled when empty, so a fresh checkout serves
/// `/db` at once; every step can run again, and in several workers at once, without harm.
protocol AppDatabase: Sendable {
    /// Creates the tables if missing and fills them if empty.
    func migrate() async throws
    /// Loads the data anew: every world gets a new random number, and the fortunes are TechEmpower's again.
    func reload() async throws
    func world(id: Int) async throws -> World?
    /// The worlds with `ids`, each fetched by its own query (TechEmpower's rule for `/queries`).
    func worlds(ids: [Int]) async throws -> [World]
    func allWorlds() async throws -> [World]
    /// Writes `worlds`' random numbers in one transaction.
    func update(_ worlds: [World]) async throws
    func fortunes() async throws -> [Fortune]
    func insert(_ upload: StoredUpload) async throws
    /// The latest `limit` uploads, newest first.
    func recentUploads(limit: Int) async throws -> [StoredUpload]
    /// Closes the connections (a graceful stop).
    func close() async
}

enum AppDatabases {
    static let worldCount = 10_000

    /// The database `settings` name (`database`, `database_pool`); throws naming a setting that cannot be used.
    static func open(settings: AppSettings, logger: Logger) throws -> any AppDatabase {
        let location = try settings.string("database", default: "sqlite:var/app.db")
        let poolSize = try settings.int("database_pool", default: 4)
        guard poolSize >= 1 else { throw BootError(message: "database_pool: must be at least 1, not \(poolSize)") }
        if location.hasPrefix("sqlite:"), location.count > "sqlite:".count {
            // Relative to the config file's directory, as `path` settings are.
            let path = try AppSettings(
                values: ["database": .string(String(location.dropFirst("sqlite:".count)))],
                configDirectory: settings.configDirectory, generation: settings.generation
            ).path("database", default: "")
            return try SQLiteStore(path: path, poolSize: poolSize, logger: logger)
        }
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            do {
                return PostgresStore(
                    location: try PostgresLocation(url: location), poolSize: poolSize,
                    eventLoopGroup: settings.eventLoopGroup, logger: logger)
            } catch let error as PostgresLocation.Invalid {
                throw BootError(message: "database: \(error)")
            }
        }
        throw BootError(message: "database: '\(location)' is neither sqlite:PATH nor a postgres:// URL")
    }
}

/// A row of TechEmpower's `World` table.
struct World: Codable, Equatable, Sendable {
    var id: Int
    var randomNumber: Int
}

/// An uploaded file as the `uploads` table keeps it.
struct StoredUpload: Equatable, Sendable {
    var name: String
    var size: Int
    var sha256: String
    var contentType: String
    var storedAt: Date
}

/// A row of TechEmpower's `Fortune` table.
struct Fortune: Equatable, Sendable {
    var id: Int
    var message: String
}
