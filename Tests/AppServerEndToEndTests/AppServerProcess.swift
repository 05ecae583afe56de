import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The real `appserver` binary (the reference app) on a Unix socket in a temp directory.
final class AppServerProcess: @unchecked Sendable {
    let directory: TestDirectory
    let process = Process()
    let configPath: String
    let socketPath: String
    let log = LineCollector()

    /// The `appserver` executable built next to this test bundle.
    static var binary: String { builtProduct("appserver") }

    /// Writes a config (`bind` set to a socket in the directory, then `config`) and starts the master; waits for
    /// all workers to be ready unless `waitUntilReady` is false.
    init(
        directory: TestDirectory = TestDirectory(), config: String = "", arguments: [String] = [],
        environment: [String: String] = [:], executable: String = AppServerProcess.binary, waitUntilReady: Bool = true
    ) throws {
        self.directory = directory
        socketPath = directory.path + "/app.sock"
        configPath = directory.write("appserver.yaml", Self.yaml(socketPath: socketPath, config))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--config", configPath] + arguments
        // No Swift backtracer for the workers the tests abort or crash on purpose: it symbolicates the debug build
        // for seconds, the master kills the worker 5 s after aborting it, and a backtracer caught by that kill was
        // seen to hold the master's standard error (this log's pipe) open for eight minutes.
        let quiet = ["SWIFT_BACKTRACE": "enable=no"]
        process.environment = ProcessInfo.processInfo.environment.merging(quiet) { $1 }.merging(environment) { $1 }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        log.read(from: errors.fileHandleForReading)
        try process.run()
        if waitUntilReady && log.waitFor(containing: "workers serving", timeout: 30) == nil {
            process.terminate()
            throw TestFailure("appserver did not become ready:\n\(log.text)")
        }
    }

    static func yaml(socketPath: String, _ config: String) -> String {
        let workers = config.contains("workers:") ? "" : "workers: 2\n"
        let accessLog = config.contains("access_log:") ? "" : "access_log: off\n"
        return "bind: unix:\(socketPath)\n\(workers)\(accessLog)\(config)\n"
    }

    deinit {
        guard process.isRunning else { return }
        // INT stops the master and its workers at once; KILL only if that fails (workers would then exit by
        // themselves when they notice the master is gone).
        kill(process.processIdentifier, SIGINT)
        eventually(within: 5) { !process.isRunning }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ number: Int32) { kill(pid, number) }

    func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        eventually(within: timeout) { !process.isRunning } ? process.terminationStatus : nil
    }

    func connect() throws -> RawConnection { try RawConnection(unixPath: socketPath) }

    /// One request on a fresh connection.
    func request(
        _ method: String = "GET", _ path: String, headers: [String] = [], body: String = ""
    ) throws -> RawConnection.Response {
        let connection = try connect()
        let extra = headers.map { $0 + "\r\n" }.joined()
        let length = body.isEmpty && method == "GET" ? "" : "Content-Length: \(body.utf8.count)\r\n"
        try connection.send("\(method) \(path) HTTP/1.1\r\nHost: app\r\n\(extra)\(length)\r\n\(body)")
        return try connection.readResponse(isHead: method == "HEAD")
    }

    /// The pids of the workers currently answering (asks until it has seen `count` distinct ones).
    func workerPIDs(count: Int, attempts: Int = 200) throws -> Set<String> {
        var seen: Set<String> = []
        for _ in 0..<attempts where seen.count < count {
            seen.insert(try request("GET", "/__test/pid").bodyText)
        }
        return seen
    }
}

/// Keep-alive clients hammering `path` from several threads until stopped; counts responses and failures.
final class LoadGenerator: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private(set) var succeeded = 0
    private(set) var failures: [String] = []
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    init(server: AppServerProcess, path: String = "/plaintext", clients: Int = 4) {
        // Only the socket path is captured: holding the server would keep it (and its processes) alive after the test.
        let socketPath = server.socketPath
        for _ in 0..<clients {
            finished.enter()
            let thread = Thread { [self] in
                defer { finished.leave() }
                var connection: RawConnection?
                while isRunning {
                    do {
                        if connection == nil { connection = try RawConnection(unixPath: socketPath) }
                        try connection!.send("GET \(path) HTTP/1.1\r\nHost: app\r\n\r\n")
                        let response = try connection!.readResponse()
                        record(success: response.status == 200, detail: "status \(response.status)")
                        // The server asked to close (a worker stopping): reconnect, as any HTTP client does.
                        if response.header("Connection") == "close" { connection = nil }
                    } catch {
                        record(success: false, detail: "\(error)")
                        connection = nil
                    }
                }
            }
            threads.append(thread)
            thread.start()
        }
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    private func record(success: Bool, detail: String) {
        lock.lock()
        defer { lock.unlock() }
        if success { succeeded += 1 } else { failures.append(detail) }
    }

    /// Waits until at least `count` requests have succeeded (the load is really running).
    func waitForSuccesses(_ count: Int, timeout: TimeInterval = 20) -> Bool {
        eventually(within: timeout) {
            lock.lock()
            defer { lock.unlock() }
            return succeeded >= count
        }
    }

    func stop() -> (succeeded: Int, failures: [String]) {
        lock.lock()
        running = false
        lock.unlock()
        finished.wait()
        return (succeeded, failures)
    }
}
