import Foundation
import TestSupport
import Testing

/// AppServer under `systemd-socket-activate`, as `appserver.socket` starts it: the master takes the inherited
/// socket for `bind`, its workers serve on it, and the socket file outlives the master for the next one.
@Suite struct SocketActivationTests {
    let directory = TestDirectory()
    let log = LineCollector()

    func activate(_ sockets: [String], bind: String) throws -> ChildProcess {
        let config = directory.write("appserver.yaml", "bind: unix:\(bind)\nworkers: 1\naccess_log: \"off\"\n")
        let activator = try ChildProcess(
            "/usr/bin/systemd-socket-activate",
            sockets.flatMap { ["--listen", $0] } + [builtProduct("appserver"), "--config", config], log: log)
        for socket in sockets {
            #expect(eventually(within: 10) { FileManager.default.fileExists(atPath: socket) })
        }
        return activator
    }

    @Test func theMasterServesOnTheInheritedSocketAndLeavesItsFile() throws {
        let path = directory.path + "/app.sock"
        let activator = try activate([path], bind: path)
        let connection = try RawConnection(unixPath: path)
        try connection.send("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 200 && response.bodyText == "Hello, World!")
        #expect(log.waitFor(containing: "listening on an inherited socket", timeout: 10) != nil)
        // systemd owns the socket file: a stopping master leaves it for the next start.
        kill(activator.process.processIdentifier, SIGTERM)
        #expect(eventually(within: 10) { !activator.process.isRunning })
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func anInheritedSocketThatIsNotTheBindAddressStopsTheMaster() throws {
        let path = directory.path + "/app.sock"
        let activator = try activate([directory.path + "/other.sock"], bind: path)
        _ = try? RawConnection(unixPath: directory.path + "/other.sock")
        #expect(eventually(within: 10) { !activator.process.isRunning })
        #expect(activator.process.terminationStatus != 0)
        #expect(log.waitFor(containing: "is not the bind address", timeout: 1)?.contains("other.sock") == true)
    }
}
