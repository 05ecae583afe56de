import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The reference app's database as an operator meets it: `--run init-db` loads PostgreSQL, and a database that is
/// down leaves the workers serving, its routes answering 503 and saying why at most once a second.
@Suite struct DatabaseTests {
    @Test func initDBLoadsTheDataAndCanRunAgain() throws {
        let server = try PostgresServer.shared()
        let name = "init\(UInt32.random(in: 0...UInt32.max))"
        try server.createDatabase(name)
        let directory = TestDirectory()
        let config = directory.write(
            "appserver.yaml",
            "bind: unix:\(directory.path)/app.sock\napp: {database: \"\(server.url(database: name))\"}\n")
        let first = try runToCompletion(AppServerProcess.binary, ["--config", config, "--run", "init-db"])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("10000 worlds and 12 fortunes loaded"), "\(first.output)")
        #expect(try server.psql("SELECT count(*) FROM world", database: name) == "10000")
        #expect(try server.psql("SELECT count(*) FROM fortune", database: name) == "12")
        let numbers = try server.psql("SELECT sum(randomnumber) FROM world", database: name)
        // Again: the same rows, with new random numbers.
        #expect(try runToCompletion(AppServerProcess.binary, ["--config", config, "--run", "init-db"]).status == 0)
        #expect(try server.psql("SELECT count(*) FROM world", database: name) == "10000")
        #expect(try server.psql("SELECT sum(randomnumber) FROM world", database: name) != numbers)
        #expect(
            try server.psql("SELECT message FROM fortune WHERE id = 12", database: name) == "フレームワークのベンチマーク")

        let unknown = try runToCompletion(AppServerProcess.binary, ["--config", config, "--run", "drop-everything"])
        #expect(unknown.status == 1 && unknown.output.contains("no command 'drop-everything'"), "\(unknown.output)")
    }

    @Test func aDatabaseThatIsDownGets503AndOneLineASecond() throws {
        let directory = TestDirectory()
        let nowhere = "postgres:///app?host=\(directory.path)/no-server&port=5432&user=nobody"
        let server = try AppServerProcess(directory: directory, config: "app: {database: \"\(nowhere)\"}")
        #expect(server.log.text.contains("database not ready; its routes answer 503 until it is"))
        let before = server.log.lines.filter { $0.contains("database unavailable") }.count
        for _ in 0..<10 {
            let response = try server.request("GET", "/db")
            #expect(response.status == 503 && response.header("Retry-After") == "1")
        }
        // The other routes serve; the home page says it cannot list uploads.
        #expect(try server.request("GET", "/plaintext").status == 200)
        #expect(try server.request("GET", "/").bodyText.contains("Recent uploads cannot be listed right now."))
        let lines = server.log.lines.filter { $0.contains("database unavailable") }.count - before
        #expect(lines >= 1 && lines < 10, "\(server.log.text)")
    }

    @Test func aDatabaseThatGoesDownWhileServingGets503() throws {
        var postgres: PostgresServer? = try PostgresServer(databases: ["app"])
        let url = postgres!.url(database: "app")
        let server = try AppServerProcess(config: "workers: 1\napp: {database: \"\(url)\"}")
        #expect(try server.request("GET", "/db").status == 200)
        #expect(try server.request("GET", "/fortunes").status == 200)
        postgres = nil  // stopped (fast shutdown: its sessions end) and removed
        for _ in 0..<6 {
            let response = try server.request("GET", "/db")
            #expect(response.status == 503 && response.header("Retry-After") == "1")
        }
        #expect(try server.request("GET", "/plaintext").status == 200)
        let lines = server.log.lines.filter { $0.contains("database unavailable") }.count
        #expect(lines >= 1 && lines < 6, "\(server.log.text)")
    }
}
