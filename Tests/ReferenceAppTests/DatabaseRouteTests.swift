import AppServer
import AppServerTesting
import Foundation
import HTTPTypes
import Logging
import NIOCore
import TestSupport
import Testing

@testable import appserver

/// The databases the reference app runs on: its default, SQLite, and a real PostgreSQL of the test's own.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }
}

/// TechEmpower's database tests on both databases the reference app supports, with their rules checked.
@Suite struct DatabaseRouteTests {
    let directory = TestDirectory()
    let databaseName = "t\(UInt32.random(in: 0...UInt32.max))"

    /// The `database` setting for `backend`: a file in the test's directory, or a new database on the shared
    /// PostgreSQL server.
    private func location(_ backend: Backend) throws -> String {
        switch backend {
        case .sqlite: return "sqlite:var/app.db"
        case .postgres:
            let server = try PostgresServer.shared()
            if (try? server.psql("SELECT 1", database: databaseName)) == nil { try server.createDatabase(databaseName) }
            return server.url(database: databaseName)
        }
    }

    private func settings(_ backend: Backend) throws -> AppSettings {
        AppSettings(
            values: ["database": .string(try location(backend))], configDirectory: directory.path, generation: 1)
    }

    private func client(_ backend: Backend) async throws -> AppTestClient<ReferenceApp> {
        try await AppTestClient.booted(
            ReferenceApp(), settings: ["media_dir": .string("media"), "database": .string(try location(backend))],
            configDirectory: directory.path)
    }

    private func worlds(_ response: TestResponse) throws -> [World] {
        try JSONDecoder().decode([World].self, from: Data(response.bodyText.utf8))
    }

    @Test(arguments: Backend.allCases) func dbAnswersOneRandomWorld(backend: Backend) async throws {
        let client = try await client(backend)
        let response = try await client.execute(.get, "/db")
        #expect(response.status == .ok && response.headerFields[.contentType] == "application/json")
        let world = try JSONDecoder().decode(World.self, from: Data(response.bodyText.utf8))
        #expect((1...10_000).contains(world.id) && (1...10_000).contains(world.randomNumber))
        if backend == .sqlite { #expect(FileManager.default.fileExists(atPath: directory.path + "/var/app.db")) }
    }

    @Test(arguments: Backend.allCases) func queriesAreClampedAndCountedAsTheRulesSay(backend: Backend) async throws {
        let client = try await client(backend)
        for (query, expected) in [
            ("", 1), ("?queries=", 1), ("?queries=abc", 1), ("?queries=0", 1), ("?queries=-3", 1), ("?queries=20", 20),
            ("?queries=501", 500), ("?other=5&queries=7", 7),
        ] {
            let response = try await client.execute(.get, "/queries" + query)
            let worlds = try worlds(response)
            #expect(worlds.count == expected, "\(query)")
            #expect(worlds.allSatisfy { (1...10_000).contains($0.id) })
        }
        #expect(try worlds(try await client.execute(.get, "/cached-queries?count=3")).count == 3)
        #expect(try worlds(try await client.execute(.get, "/cached-queries?count=9999")).count == 500)
    }

    @Test(arguments: Backend.allCases) func updatesPersist(backend: Backend) async throws {
        let client = try await client(backend)
        let updated = try worlds(try await client.execute(.get, "/updates?queries=20"))
        #expect(updated.count == 20)
        // Read back through a connection of its own, as another worker would.
        let database = try AppDatabases.open(settings: try settings(backend), logger: Logger(label: "test"))
        // The last write of an id repeated in the request is the one that stays.
        var latest: [Int: Int] = [:]
        for world in updated { latest[world.id] = world.randomNumber }
        for (id, number) in latest { #expect(try await database.world(id: id)?.randomNumber == number) }
        await database.close()
    }

    @Test(arguments: Backend.allCases) func fortunesAddOneSortEscapeAndKeepUTF8(backend: Backend) async throws {
        let client = try await client(backend)
        let response = try await client.execute(.get, "/fortunes")
        #expect(response.status == .ok && response.headerFields[.contentType] == "text/html; charset=utf-8")
        let page = response.bodyText
        let rows = page.components(separatedBy: "<tr>").dropFirst(2)
        #expect(rows.count == 13)
        #expect(rows.first?.hasPrefix("<td>11</td><td>&lt;script&gt;alert(&quot;This should not") == true)
        #expect(page.contains("<td>0</td><td>Additional fortune added at request time.</td>"))
        #expect(page.contains("<td>12</td><td>フレームワークのベンチマーク</td>"))
        #expect(page.contains("aren&#39;t broken"))
        let messages = rows.compactMap {
            $0.components(separatedBy: "</td><td>").last?.components(separatedBy: "</td>").first
        }
        #expect(messages == messages.sorted())
        #expect(page.hasPrefix("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"))
        #expect(page.hasSuffix("</table></body></html>"))
    }

    @Test(arguments: Backend.allCases) func bootingAgainKeepsTheDataAndAnUnknownDatabaseIsRefused(
        backend: Backend
    ) async throws {
        _ = try await client(backend)
        _ = try await client(backend)
        let database = try AppDatabases.open(settings: try settings(backend), logger: Logger(label: "test"))
        #expect(try await database.allWorlds().count == 10_000)
        #expect(try await database.fortunes().count == 12)
        // The UTF-8 row arrives as it was stored.
        #expect(try await database.fortunes().contains { $0.message == "フレームワークのベンチマーク" })
        await database.close()
        await #expect(throws: BootError.self) {
            _ = try await AppTestClient.booted(
                ReferenceApp(), settings: ["media_dir": .string("media"), "database": .string("mysql://x/y")],
                configDirectory: directory.path)
        }
    }
}
