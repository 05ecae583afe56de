import Foundation
import TestSupport
import Testing

/// USR2, as nginx's binary upgrade: the binary on disk takes over the listening sockets while clients keep
/// connecting, and a broken binary leaves the running one serving.
@Suite struct BinaryUpgradeTests {
    let directory = TestDirectory()
    let binary: String
    let edge: EdgeProcess

    init() throws {
        directory.write("site/a.txt", "alpha")
        // A copy, so the test can replace it the way an operator installs a new version.
        binary = directory.path + "/edge"
        try FileManager.default.copyItem(atPath: EdgeProcess.binary, toPath: binary)
        edge = try EdgeProcess(directory: directory, config: "routes: [{prefix: /, dir: site}]", binary: binary)
    }

    /// The pid of the process that took over, from the old one's log line; stopped when the test ends.
    func newProcess() throws -> Int32 {
        let line = try #require(edge.waitForLog(containing: "upgrade: the new binary serves"), "\(edge.errorLog)")
        return try #require(line.components(separatedBy: "new_pid=").last.flatMap { Int32($0) })
    }

    @Test func theNewBinaryTakesOverWhileClientsKeepConnecting() throws {
        let load = ConnectingClients(port: edge.port, path: "/a.txt")
        #expect(load.waitForSuccesses(200))
        edge.signal(SIGUSR2)
        let successor = try newProcess()
        defer { kill(successor, SIGKILL) }
        // The old process drains and exits; the new one serves on the same port.
        #expect(edge.waitForExit() == 0, "\(edge.errorLog)")
        let before = load.succeeded
        #expect(load.waitForSuccesses(before + 200))
        let (succeeded, failures) = load.stop()
        #expect(kill(successor, 0) == 0)
        #expect(failures.count == 0, "\(failures.count) failed of \(succeeded + failures.count): \(failures.prefix(3))")
    }

    @Test func aBinaryThatFailsToStartLeavesTheRunningOneServing() throws {
        let load = ConnectingClients(port: edge.port, path: "/a.txt")
        #expect(load.waitForSuccesses(100))
        try FileManager.default.removeItem(atPath: binary)
        directory.write("edge", "#!/bin/sh\nexit 3\n")
        chmod(binary, 0o755)
        edge.signal(SIGUSR2)
        let line = edge.waitForLog(containing: "upgrade failed, still serving with this binary")
        #expect(line?.contains("exited with status 3 before it was ready") == true, "\(edge.errorLog)")
        let before = load.succeeded
        #expect(load.waitForSuccesses(before + 100))
        let (_, failures) = load.stop()
        #expect(failures.count == 0, "\(failures.prefix(3))")
        #expect(edge.process.isRunning)
    }
}

/// Clients that each make one request per connection, from several threads, until stopped: a connection refused
/// or reset is a failure (an upgrade must not cause any).
final class ConnectingClients: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var successes = 0
    private var failed: [String] = []
    private let finished = DispatchGroup()

    init(port: Int, path: String, clients: Int = 4) {
        for _ in 0..<clients {
            finished.enter()
            Thread { [self] in
                defer { finished.leave() }
                while isRunning {
                    do {
                        let connection = try RawConnection(port: port)
                        try connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        let status = try connection.readResponse().status
                        record(status == 200 ? nil : "status \(status)")
                    } catch {
                        record("\(error)")
                    }
                }
            }.start()
        }
    }

    private var isRunning: Bool { lock.withLock { running } }

    var succeeded: Int { lock.withLock { successes } }

    private func record(_ failure: String?) {
        lock.withLock {
            if let failure { failed.append(failure) } else { successes += 1 }
        }
    }

    func waitForSuccesses(_ count: Int, timeout: TimeInterval = 20) -> Bool {
        eventually(within: timeout) { succeeded >= count }
    }

    func stop() -> (succeeded: Int, failures: [String]) {
        lock.withLock { running = false }
        finished.wait()
        return lock.withLock { (successes, failed) }
    }
}
