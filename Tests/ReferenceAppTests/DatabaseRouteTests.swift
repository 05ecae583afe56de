import AppServer
import AppServerTesting
import Foundation
import HTTPTypes
import Logging
import NIOCore
import TestSupport
import Testing

@testable import appserver

/// TechEmpower's database tests on the reference app's default database (SQLite), with their rules checked.
@Suite struct DatabaseRouteTests {
    let directory = TestDirectory()

    private func client() async throws -> AppTestClient<ReferenceApp> {
        try await AppTestClient.booted(
            ReferenceApp(), settings: ["media_dir": .string("media"), "database": .string("sqlite:var/app.db")],
            configDirectory: directory.path)
    }

    private func worlds(_ response: TestResponse) throws -> [World] {
        try JSONDecoder().decode([World].self, from: Data(response.bodyText.utf8))
    }

    @Test func dbAnswersOneRandomWorld() async throws {
        let client = try await client()
        let response = try await client.execute(.get, "/db")
        #expect(response.status == .ok && response.headerFields[.contentType] == "application/json")
        let world = try JSONDecoder().decode(World.self, from: Data(response.bodyText.utf8))
        #expect((1...10_000).contains(world.id) && (1...10_000).contains(world.randomNumber))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/var/app.db"))
    }

    @Test func queriesAreClampedAndCountedAsTheRulesSay() async throws {
        let client = try await client()
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

    @Test func updatesPersist() async throws {
        let client = try await client()
        let updated = try worlds(try await client.execute(.get, "/updates?queries=20"))
        #expect(updated.count == 20)
        // Read back through a second connection to the same file, as another worker would.
        let settings = AppSettings(
            values: ["database": .string("sqlite:var/app.db")], configDirectory: directory.path, generation: 1)
        let database = try AppDatabase(settings: settings, logger: Logger(label: "test"))
        // The last write of an id repeated in the request is the one that stays.
        var latest: [Int: Int] = [:]
        for world in updated { latest[world.id] = world.randomNumber }
        for (id, number) in latest { #expect(try await database.world(id: id)?.randomNumber == number) }
        await database.close()
    }

    @Test func fortunesAddOneSortEscapeAndKeepUTF8() async throws {
        let client = try await client()
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

    @Test func bootingAgainKeepsTheDataAndAnUnknownDatabaseIsRefused() async throws {
        _ = try await client()
        _ = try await client()
        let settings = AppSettings(
            values: ["database": .string("sqlite:var/app.db")], configDirectory: directory.path, generation: 1)
        let database = try AppDatabase(settings: settings, logger: Logger(label: "test"))
        #expect(try await database.allWorlds().count == 10_000)
        #expect(try await database.fortunes().count == 12)
        await database.close()
        await #expect(throws: BootError.self) {
            _ = try await AppTestClient.booted(
                ReferenceApp(), settings: ["media_dir": .string("media"), "database": .string("mysql://x/y")],
                configDirectory: directory.path)
        }
    }
}
