import AppServer
import Foundation
import HTTPTypes
import NIOCore

/// TechEmpower's database tests, with their rules: `/db` (one random world), `/queries?queries=N` (N worlds, each
/// by its own query), `/updates?queries=N` (N worlds read, given new random numbers and written back) and
/// `/cached-queries?count=N` (N worlds from the in-process cache). N is clamped to 1...500; missing or not a
/// number, it is 1.
///
/// Each returns its answer rather than writing it, so a failure of the database (answered 503) is never confused
/// with a client that left while the answer was written.
enum WorldRoutes {
    typealias Answer = (head: HTTPResponse, body: ByteBuffer)
    static func db(database: any AppDatabase) async throws -> Answer {
        guard let world = try await database.world(id: randomID()) else {
            throw DatabaseUnavailable(reason: "World has no rows; run `appserver --config FILE --run init-db`")
        }
        return (.text("application/json"), ByteBuffer(bytes: try JSONEncoder().encode(world)))
    }

    static func queries(_ path: String, database: any AppDatabase) async throws -> Answer {
        let worlds = try await database.worlds(ids: (0..<count(in: path, parameter: "queries")).map { _ in randomID() })
        return (.text("application/json"), ByteBuffer(bytes: try JSONEncoder().encode(worlds)))
    }

    static func updates(_ path: String, database: any AppDatabase) async throws -> Answer {
        var worlds = try await database.worlds(ids: (0..<count(in: path, parameter: "queries")).map { _ in randomID() })
        for index in worlds.indices { worlds[index].randomNumber = randomID() }
        // Written in id order, so two requests updating the same rows never wait on each other in a cycle.
        try await database.update(worlds.sorted { $0.id < $1.id })
        return (.text("application/json"), ByteBuffer(bytes: try JSONEncoder().encode(worlds)))
    }

    static func cachedQueries(_ path: String, cache: [World]) throws -> Answer {
        guard !cache.isEmpty else { throw DatabaseUnavailable(reason: "the world cache is empty") }
        let worlds = (0..<count(in: path, parameter: "count")).map { _ in cache[randomID() - 1] }
        return (.text("application/json"), ByteBuffer(bytes: try JSONEncoder().encode(worlds)))
    }

    static func randomID() -> Int { Int.random(in: 1...AppDatabases.worldCount) }

    /// The request's `parameter` as TechEmpower counts it: 1...500, and 1 when missing or not a number.
    static func count(in path: String, parameter: String) -> Int {
        guard let query = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return 1 }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first == Substring(parameter) else { continue }
            guard parts.count == 2, let value = Int(parts[1]) else { return 1 }
            return min(max(value, 1), 500)
        }
        return 1
    }
}
