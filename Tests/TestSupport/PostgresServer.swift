import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of the test's own: `initdb` into a temporary directory, listening only on a Unix socket
/// there, stopped and removed when the last reference goes. Debian's `postgresql` package provides the programs
/// (the test command installs it). PostgreSQL refuses to run as root, so as root (CI) it runs as the `postgres`
/// user the package creates.
public final class PostgresServer: @unchecked Sendable {
    /// The directory holding the socket: `?host=` of a `postgres:///DB?host=…&port=…` URL.
    public let socketDirectory: String
    public let port: Int
    /// The database user the tests connect as (no password: the socket is trusted).
    public let user = "apptest"
    private let directory: String
    private let server: Process

    /// Initialises a cluster, starts it, and creates `databases`.
    public init(databases: [String]) throws {
        let bin = try Self.binDirectory()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString)").path
        socketDirectory = directory + "/socket"
        port = Int.random(in: 20_000...60_000)
        try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        let runAsOther = geteuid() == 0
        if runAsOther {
            _ = try runToCompletion("/bin/chown", ["-R", "postgres:postgres", directory])
            chmod(directory, 0o755)
        }
        let initdb = try Self.run(
            bin + "/initdb", ["-D", directory + "/data", "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"],
            asPostgres: runAsOther)
        guard initdb.status == 0 else { throw TestFailure("initdb failed: \(initdb.output)") }
        server = Process()
        let arguments = [
            "-D", directory + "/data", "-k", socketDirectory, "-p", String(port), "-c", "listen_addresses=",
            "-c", "fsync=off",
        ]
        if runAsOther {
            // setpriv execs the server in its own place (runuser would stay as its parent and swallow signals).
            server.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            server.arguments =
                ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", bin + "/postgres"] + arguments
        } else {
            server.executableURL = URL(fileURLWithPath: bin + "/postgres")
            server.arguments = arguments
        }
        // Its output goes to a file: a pipe left open would keep the test run waiting for it.
        FileManager.default.createFile(atPath: directory + "/server.log", contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/server.log")
        server.standardOutput = log
        server.standardError = log
        server.standardInput = FileHandle.nullDevice
        try server.run()
        let ready = eventually(within: 30, pollingEvery: 0.05) {
            (try? Self.run(bin + "/pg_isready", ["-h", socketDirectory, "-p", String(port)], asPostgres: false).status)
                == 0
        }
        guard ready else { throw TestFailure("PostgreSQL did not start: \(serverLog)") }
        Self.started.withLock { $0.append(server.processIdentifier) }
        for database in databases { try createDatabase(database) }
    }

    /// One server for a whole test run, started by the first test that asks (each test makes its own database):
    /// stopped when the run exits.
    public static func shared() throws -> PostgresServer {
        try sharedServer.withLock { shared in
            if let server = shared { return server }
            let server = try PostgresServer(databases: [])
            atexit { PostgresServer.stopAll() }
            shared = server
            return server
        }
    }

    private static let sharedServer = Mutex<PostgresServer?>(nil)
    private static let started = Mutex<[Int32]>([])

    private static func stopAll() {
        for pid in started.withLock({ $0 }) { kill(pid, SIGINT) }
        guard let directory = sharedServer.withLock({ $0?.directory }) else { return }
        // The server removes its pid file last as it stops; its files can go then.
        eventually(within: 5, pollingEvery: 0.05) {
            !FileManager.default.fileExists(atPath: directory + "/data/postmaster.pid")
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Creates an empty database named `name`.
    public func createDatabase(_ name: String) throws {
        let created = try Self.run(
            try Self.binDirectory() + "/createdb", ["-h", socketDirectory, "-p", String(port), "-U", user, name],
            asPostgres: false)
        guard created.status == 0 else { throw TestFailure("createdb \(name): \(created.output)") }
    }

    deinit {
        // SIGINT: PostgreSQL's fast shutdown (sessions ended, no waiting for clients).
        if server.isRunning {
            kill(server.processIdentifier, SIGINT)
            server.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The URL the reference app's `database` setting takes for `database`.
    public func url(database: String) -> String {
        "postgres:///\(database)?host=\(socketDirectory)&port=\(port)&user=\(user)"
    }

    /// Runs `sql` with psql and returns what it printed (unaligned, tuples only).
    public func psql(_ sql: String, database: String) throws -> String {
        let result = try Self.run(
            try Self.binDirectory() + "/psql",
            ["-h", socketDirectory, "-p", String(port), "-U", user, "-d", database, "-At", "-c", sql], asPostgres: false
        )
        guard result.status == 0 else { throw TestFailure("psql: \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var serverLog: String {
        (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
    }

    private static func binDirectory() throws -> String {
        let base = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        guard let newest = versions.compactMap(Int.init).max() else {
            throw TestFailure("PostgreSQL is not installed (\(base)); scripts/test installs Debian's postgresql")
        }
        return "\(base)/\(newest)/bin"
    }

    private static func run(
        _ program: String, _ arguments: [String], asPostgres: Bool
    ) throws -> (
        status: Int32, output: String
    ) {
        asPostgres
            ? try runToCompletion("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
            : try runToCompletion(program, arguments)
    }
}
