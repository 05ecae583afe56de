import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Upstream servers given as `HOST:PORT`: the real AppServer listening on loopback TCP, and a port nothing listens on.
@Suite struct TCPUpstreamTests {
    let directory = TestDirectory()
    let appLog = LineCollector()
    let app: ChildProcess
    let edge: EdgeProcess
    let stuck: StuckListener

    init() throws {
        app = try startAppServer(in: directory, bind: "127.0.0.1:0", app: "{media_dir: media}", log: appLog)
        let listening = try #require(appLog.lines.first { $0.contains("listening bind=127.0.0.1:") })
        let port = try #require(
            listening.split(separator: " ").first { $0.hasPrefix("bind=") }?.split(separator: ":").last)
        stuck = try StuckListener()
        edge = try EdgeProcess(
            directory: directory,
            config: """
                upstreams:
                  app: {servers: ["127.0.0.1:\(port)"]}
                  closed: {servers: ["127.0.0.1:\(try Self.closedPort())"]}
                  stuck: {servers: ["127.0.0.1:\(stuck.port)"]}
                routes:
                  - {prefix: /closed/, upstream: closed}
                  - {prefix: /stuck/, upstream: stuck}
                  - {prefix: /, upstream: app}
                timeouts: {upstream_connect: 300ms}
                """)
    }

    /// A loopback port that was free a moment ago and now refuses connections.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestFailure("bind: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test func proxiesOverTCPRequestAfterRequest() throws {
        let connection = try edge.connect()
        for _ in 0..<3 {
            try connection.send("POST /echo HTTP/1.1\r\nHost: tcp.example\r\nContent-Length: 5\r\n\r\nhello")
            let response = try connection.readResponse()
            #expect(response.status == 200)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            #expect(object["body_length"] as? Int == 5)
            #expect(object["authority"] as? String == "tcp.example")
            let forwarded = (object["headers"] as? [[String: String]] ?? []).first {
                $0["name"]?.lowercased() == "x-forwarded-for"
            }
            #expect(forwarded?["value"] == "127.0.0.1")
        }
        #expect(try get(edge.port, "/plaintext").bodyText == "Hello, World!")
    }

    @Test func aConnectThatHangsGivesUpAfterUpstreamConnect() throws {
        let connection = try edge.connect()
        try connection.send("GET /stuck/x HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.readResponse().status == 502)
        let line = edge.waitForLog(containing: "proxy failed")
        // The configured limit, not the kernel's two minutes of SYN retries; and the server is skipped for a while.
        #expect(line?.contains("Connect timeout (300 ms)") == true, "\(line ?? edge.errorLog)")
        #expect(edge.waitForLog(containing: "cannot connect to upstream server; skipping it for a while") != nil)
    }

    @Test func aRefusingTCPServerIs502AndLogged() throws {
        #expect(try get(edge.port, "/closed/x").status == 502)
        let line = edge.waitForLog(containing: "proxy failed")
        #expect(line?.contains("cannot connect to 127.0.0.1:") == true, "\(line ?? edge.errorLog)")
        #expect(try get(edge.port, "/plaintext").status == 200)
    }
}

/// A loopback TCP listener that never accepts, its one-place backlog filled: the kernel drops further SYNs, so a
/// connect to it hangs as one to an unreachable host does.
final class StuckListener {
    let port: Int
    private var descriptors: [CInt] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        descriptors.append(listener)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 0) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard listening else { throw TestFailure("stuck listener: \(String(cString: strerror(errno)))") }
        port = Int(UInt16(bigEndian: address.sin_port))
        // Fill the accept queue (backlog 0 holds one) with connections nobody accepts.
        for _ in 0..<2 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            descriptors.append(filler)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        // The queue is full once the first filler's handshake completes.
        guard eventually(within: 5, { Self.isConnected(self.descriptors[1]) }) else {
            throw TestFailure("stuck listener never filled")
        }
    }

    private static func isConnected(_ fd: CInt) -> Bool {
        var peer = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
    }

    deinit {
        descriptors.forEach { close($0) }
    }
}
