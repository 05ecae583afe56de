import Foundation
import TestSupport
import Testing

/// HUP changes what Edge listens on, its threads and its access log without a restart, and refuses the whole
/// reload when a new address cannot be bound.
@Suite struct ListenerReloadTests {
    let directory = TestDirectory()

    init() {
        directory.write("site/a.txt", "alpha")
    }

    private func start(threads: Int = 1) throws -> EdgeProcess {
        try EdgeProcess(directory: directory, config: "threads: \(threads)\nroutes: [{prefix: /, dir: site}]")
    }

    /// Rewrites the config and waits for the HUP's outcome line; returns it.
    private func reload(_ edge: EdgeProcess, _ yaml: String, expecting outcome: String) throws -> String {
        let before = edge.errorLog.components(separatedBy: "HUP: configuration").count
        directory.write("edge.yaml", yaml)
        edge.signal(SIGHUP)
        #expect(eventually(within: 10) { edge.errorLog.components(separatedBy: "HUP: configuration").count > before })
        let line = edge.errorLog.split(separator: "\n").last { $0.contains("HUP: configuration") }.map(String.init)
        return try #require(line.flatMap { $0.contains(outcome) ? $0 : nil }, "\(edge.errorLog)")
    }

    /// The port of a listener a HUP added, from its `HUP: listening on` line.
    private func addedPort(_ edge: EdgeProcess, scheme: String) throws -> Int {
        let line = try #require(edge.waitForLog(containing: "HUP: listening on \(scheme)://"), "\(edge.errorLog)")
        return try #require(line.split(separator: ":").last.flatMap { Int($0) }, "\(line)")
    }

    @Test func hupAddsATLSListenerAndRemovesTheOldOneWhoseConnectionsFinish() throws {
        let edge = try start()
        let oldPort = edge.port
        let kept = try edge.connect()
        try kept.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try kept.readResponse().status == 200)

        let certificates = try TestCertificates(in: directory)
        let socket = directory.path + "/edge.sock"
        _ = try reload(
            edge,
            """
            listen:
            \(certificates.tlsListener)
              - address: unix:\(socket)
            access_log: "off"
            threads: 1
            routes: [{prefix: /, dir: site}]
            """, expecting: "reloaded")
        let tlsPort = try addedPort(edge, scheme: "https")
        #expect(edge.waitForLog(containing: "HUP: stopped listening on http://127.0.0.1:\(oldPort)") != nil)

        // The new listeners serve, TLS and HTTP/2 included; the old port refuses.
        let overTLS = try curl([
            "--http2", "-w", " %{http_version}", "https://localhost:\(tlsPort)/a.txt",
            "--resolve", "localhost:\(tlsPort):127.0.0.1",
        ])
        #expect(overTLS.output == "alpha 2", "\(overTLS.output)")
        let overUnix = try RawConnection(unixPath: socket)
        try overUnix.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try overUnix.readResponse().bodyText == "alpha")
        #expect(throws: (any Error).self) { try RawConnection(port: oldPort) }
        // The connection accepted before the reload is still served.
        try kept.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try kept.readResponse().bodyText == "alpha")

        // Removing the Unix listener removes its socket file.
        _ = try reload(
            edge,
            """
            listen:
            \(certificates.tlsListener)
            access_log: "off"
            threads: 1
            routes: [{prefix: /, dir: site}]
            """, expecting: "reloaded")
        #expect(edge.waitForLog(containing: "HUP: stopped listening on http://unix:\(socket)") != nil)
        #expect(!FileManager.default.fileExists(atPath: socket))
    }

    /// An address already taken: nothing of the new file applies (its route change neither), and Edge says why.
    @Test func aListenerThatCannotBeBoundKeepsTheOldConfigurationWhole() throws {
        let edge = try start()
        directory.write("other/a.txt", "other")
        let taken = try TCPHolder()
        let refusal = try reload(
            edge,
            """
            listen:
              - address: 127.0.0.1:\(edge.port)
              - address: 127.0.0.1:\(taken.port)
            access_log: "off"
            threads: 1
            routes: [{prefix: /, dir: other}]
            """, expecting: "refused")
        #expect(refusal.contains("cannot listen on 127.0.0.1:\(taken.port)"), "\(refusal)")
        #expect(try get(edge.port, "/a.txt").bodyText == "alpha")
        #expect(!edge.errorLog.contains("HUP: listening on"))
    }

    /// From one event-loop thread to three and back: new connections land on the new threads, a connection of the
    /// old ones finishes its request and is closed, and the old threads stop.
    @Test func hupChangesTheThreads() throws {
        let edge = try start(threads: 1)
        let pid = edge.process.processIdentifier
        #expect(eventLoopThreads(of: pid) == 1)
        let kept = try edge.connect()
        try kept.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try kept.readResponse().status == 200)

        let yaml = try String(contentsOfFile: edge.configPath, encoding: .utf8)
        _ = try reload(edge, yaml.replacingOccurrences(of: "threads: 1", with: "threads: 3"), expecting: "reloaded")
        #expect(edge.waitForLog(containing: "HUP: 3 event-loop threads") != nil)
        // The old loop's idle keep-alive connection is told to finish, and the old thread stops.
        #expect(kept.waitForClose())
        #expect(eventually(within: 10) { eventLoopThreads(of: pid) == 3 }, "\(eventLoopThreads(of: pid))")
        for _ in 0..<6 { #expect(try get(edge.port, "/a.txt").bodyText == "alpha") }

        _ = try reload(edge, yaml, expecting: "reloaded")
        #expect(eventually(within: 10) { eventLoopThreads(of: pid) == 1 }, "\(eventLoopThreads(of: pid))")
        #expect(try get(edge.port, "/a.txt").bodyText == "alpha")
    }

    @Test func hupMovesTheAccessLogToANewFileAndFormat() throws {
        let edge = try start()
        #expect(try get(edge.port, "/a.txt?before").status == 200)
        let yaml = try String(contentsOfFile: edge.configPath, encoding: .utf8)
        let newPath = directory.path + "/moved.log"
        _ = try reload(
            edge, yaml.replacingOccurrences(of: edge.accessLogPath, with: newPath) + "\naccess_log_format: json\n",
            expecting: "reloaded")
        #expect(try get(edge.port, "/a.txt?after").status == 200)
        let old = try edge.stopAndReadAccessLog()
        let moved = try String(contentsOfFile: newPath, encoding: .utf8)
        #expect(old.contains { $0.contains("/a.txt?before") } && !old.contains { $0.contains("after") }, "\(old)")
        #expect(moved.contains("\"uri\":\"/a.txt?after\""), "\(moved)")
    }

    /// Threads named by NIO for its event loops.
    private func eventLoopThreads(of pid: Int32) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.filter { task in
            let name = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            return name.hasPrefix("NIO-ELT")
        }.count
    }
}

/// A TCP port held by a listening socket of the test's own.
private final class TCPHolder {
    let descriptor: Int32
    let port: Int

    init() throws {
        let held = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(held, pointer, length) == 0 && listen(held, 1) == 0 && getsockname(held, pointer, &length) == 0
            }
        }
        guard bound else { throw TestFailure("cannot hold a port") }
        descriptor = held
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
