import Foundation
import TestSupport
import Testing

/// Socket activation as systemd does it, with `systemd-socket-activate`: the sockets are bound before Edge runs, a
/// client that connects before Edge is up waits in the kernel's queue, and Edge serves on what it inherits.
@Suite struct SocketActivationTests {
    let directory = TestDirectory()
    let log = LineCollector()

    init() {
        directory.write("site/a.txt", "alpha")
    }

    /// Starts `systemd-socket-activate` listening on `sockets`, which starts Edge with `listen` at the first
    /// connection.
    func activate(_ sockets: [String], names: [String] = [], listen: String) throws -> ChildProcess {
        let config = directory.write(
            "edge.yaml", "listen:\n\(listen)\naccess_log: \"off\"\nroutes: [{prefix: /, dir: site}]\n")
        var arguments = sockets.flatMap { ["--listen", $0] }
        if !names.isEmpty { arguments.append("--fdname=" + names.joined(separator: ":")) }
        let activator = try ChildProcess(
            "/usr/bin/systemd-socket-activate", arguments + [builtProduct("edge"), "--config", config], log: log)
        for socket in sockets where socket.hasPrefix("/") {
            #expect(eventually(within: 10) { FileManager.default.fileExists(atPath: socket) })
        }
        return activator
    }

    @Test func aClientWaitsInTheQueueWhileEdgeStartsOnTheInheritedSocket() throws {
        let path = directory.path + "/edge.sock"
        let activator = try activate([path], listen: "  - address: unix:\(path)")
        // Edge is not running yet: this connection is what starts it, and it waits to be accepted.
        let connection = try RawConnection(unixPath: path)
        try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 200 && response.bodyText == "alpha")
        #expect(log.waitFor(containing: "listening on an inherited socket", timeout: 10)?.contains(path) == true)
        // The socket file is systemd's: Edge leaves it when it stops, for the next start.
        kill(activator.process.processIdentifier, SIGTERM)
        #expect(eventually(within: 10) { !activator.process.isRunning })
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func aNamedSocketServesTheEntryThatNamesIt() throws {
        let path = directory.path + "/web.sock"
        // The entry's own address is elsewhere: the name decides.
        let activator = try activate(
            [path], names: ["web"], listen: "  - {address: \"unix:\(directory.path)/other.sock\", fd_name: web}")
        let connection = try RawConnection(unixPath: path)
        try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.readResponse().status == 200)
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/other.sock"))
        _ = activator
    }

    @Test func anInheritedSocketNoListenEntryClaimsStopsEdgeNamingIt() throws {
        let served = directory.path + "/served.sock"
        let stray = directory.path + "/stray.sock"
        let activator = try activate([served, stray], listen: "  - address: unix:\(served)")
        _ = try? RawConnection(unixPath: served)  // starts Edge
        #expect(eventually(within: 10) { !activator.process.isRunning })
        #expect(activator.process.terminationStatus != 0)
        let line = log.waitFor(containing: "matches no listen address", timeout: 1)
        #expect(line?.contains(stray) == true, "\(log.text)")
    }
}
