import Foundation
import TestSupport
import Testing

/// Keep-alive, pipelining, HTTP/1.0, malformed input, limits and timeouts, against the real binary.
@Suite struct ConnectionTests {
    let edge: EdgeProcess

    init() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        directory.write("site/b.txt", "bravo")
        edge = try EdgeProcess(
            directory: directory,
            config: """
                routes: [{prefix: /, dir: site}]
                limits: {max_header_size: 1KiB, max_uri_length: 256}
                timeouts: {header: 500ms, keepalive: 1s}
                """)
    }

    @Test func keepAliveServesManyRequestsOnOneConnection() throws {
        let connection = try edge.connect()
        for _ in 0..<20 {
            try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().bodyText == "alpha")
        }
    }

    @Test func pipelinedRequestsComeBackInOrder() throws {
        let connection = try edge.connect()
        let paths = (0..<50).map { $0 % 3 == 0 ? "/b.txt" : $0 % 3 == 1 ? "/a.txt" : "/missing" }
        try connection.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
        for path in paths {
            let response = try connection.readResponse()
            switch path {
            case "/a.txt": #expect(response.bodyText == "alpha")
            case "/b.txt": #expect(response.bodyText == "bravo")
            default: #expect(response.status == 404)
            }
        }
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() throws {
        let keep = try edge.connect()
        try keep.send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try keep.readResponse().header("Connection") == "keep-alive")
        try keep.send("GET /b.txt HTTP/1.0\r\n\r\n")
        let last = try keep.readResponse()
        #expect(last.bodyText == "bravo")
        #expect(last.header("Connection") == "close")
        #expect(keep.waitForClose())
    }

    @Test func malformedRequestGets400AndServerKeepsServing() throws {
        for garbage in [
            "HELLO\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
            "\u{16}\u{3}\u{1}\u{2}\u{0}",
        ] {
            let connection = try edge.connect()
            try connection.send(garbage)
            #expect(connection.waitForClose())
            let text = connection.unreadText
            #expect(
                text.hasPrefix("HTTP/1.1 400") || text.hasPrefix("HTTP/1.1 505"),
                "for \(garbage.debugDescription): \(text)")
        }
        #expect(try get(edge.port, "/a.txt").bodyText == "alpha")
    }

    @Test func limitsAnswer414And431() throws {
        let longURI = try get(edge.port, "/" + String(repeating: "x", count: 300))
        #expect(longURI.status == 414)
        let bigHead = try get(edge.port, "/a.txt", "X-Filler: " + String(repeating: "y", count: 2000))
        #expect(bigHead.status == 431)
        let hugeHead = try get(edge.port, "/a.txt", "X-Filler: " + String(repeating: "y", count: 200_000))
        #expect(hugeHead.status == 431)
    }

    /// A static route has no use for a body: a request it refuses anyway is answered as soon as its head is in (the
    /// body timeout is 60 s here, so waiting for the body would time the test out), and the connection is closed
    /// after a bounded drain however long the client goes on sending, as nginx's lingering close.
    @Test(arguments: [
        ("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", 405),
        ("PUT /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 405),
        ("GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n", 413),
    ])
    func aRefusedBodyIsNotWaitedFor(head: String, status: Int) throws {
        let connection = try edge.connect()
        try connection.send(head + "first bytes")
        let response = try connection.readResponse()
        #expect(response.status == status)
        #expect(response.header("Connection") == "close")
        let closed = eventually(within: 15) {
            (try? connection.send(String(repeating: "x", count: 1024))) == nil
        }
        #expect(closed, "the connection was still taking the body 15 s after the answer")
    }

    /// A GET's small body is read and dropped, and the connection stays open for the next request.
    @Test func aGETWithABodyIsAnsweredAfterItAndKeptAlive() throws {
        let connection = try edge.connect()
        try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try connection.readResponse().bodyText == "alpha")
        try connection.send("GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.readResponse().bodyText == "bravo")
    }

    @Test func slowHeadIsCutOffAtHeaderTimeout() throws {
        let slow = try edge.connect()
        try slow.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n")
        #expect(slow.waitForClose())
        #expect(slow.unreadText.hasPrefix("HTTP/1.1 408 Request Timeout"))
        #expect(try get(edge.port, "/a.txt").bodyText == "alpha")
        // Its access-log line counts the time from the head's first bytes, as nginx's $request_time does: at
        // least the 500 ms header timeout.
        let lines = try edge.stopAndReadAccessLog()
        let timedOut = try #require(lines.first { $0.contains("\" 408 ") }, "\(lines)")
        let seconds = try #require(timedOut.split(separator: " ").last.flatMap { Double($0) })
        #expect(seconds >= 0.5, "\(timedOut)")
    }

    @Test func idleKeepAliveClosesAtKeepaliveTimeout() throws {
        let idle = try edge.connect()
        try idle.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try idle.readResponse()
        #expect(idle.waitForClose())
        #expect(idle.unreadText.isEmpty)
    }
}

@Suite struct MaxConnectionsTests {
    @Test func connectionsAboveTheLimitAreRefusedAndOthersKeepWorking() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(
            directory: directory, config: "routes: [{prefix: /, dir: site}]\nlimits: {max_connections: 2}")
        let first = try edge.connect(), second = try edge.connect()
        for connection in [first, second] {
            try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().status == 200)
        }
        let third = try edge.connect()
        try? third.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(third.waitForClose())
        #expect(third.unreadText.isEmpty)
        #expect(edge.waitForLog(containing: "max_connections reached") != nil)
        for connection in [first, second] {
            try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().bodyText == "alpha")
        }
    }
}

/// `limits.max_connections_per_ip`: one address cannot hold more connections than the limit, while other
/// addresses, and the trusted proxy in front, are served.
@Suite struct MaxConnectionsPerIPTests {
    @Test func aClientOverItsLimitIsRefusedAndOthersAreServed() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(
            directory: directory,
            config: """
                routes: [{prefix: /, dir: site}]
                limits: {max_connections_per_ip: 2}
                real_ip: {trusted: [127.0.0.3/32]}
                """)
        let first = try RawConnection(port: edge.port), second = try RawConnection(port: edge.port)
        for connection in [first, second] {
            try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().status == 200)
        }
        let third = try RawConnection(port: edge.port)
        try? third.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(third.waitForClose())
        #expect(third.unreadText.isEmpty)
        #expect(
            edge.waitForLog(containing: "max_connections_per_ip reached; refusing the client's new connections") != nil)
        #expect(edge.errorLog.contains("client=127.0.0.1"))
        // Another address, and the trusted proxy (not counted), are served beside the client at its limit.
        let other = try RawConnection(port: edge.port, source: "127.0.0.2")
        let proxies = try (0..<3).map { _ in try RawConnection(port: edge.port, source: "127.0.0.3") }
        for connection in [other] + proxies + [first] {
            try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().bodyText == "alpha")
        }
        // A closed connection frees its place.
        second.close()
        #expect(
            eventually(within: 10) {
                guard let again = try? RawConnection(port: edge.port) else { return false }
                try? again.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                return (try? again.readResponse().status) == 200
            })
    }
}

@Suite struct SendTimeoutTests {
    @Test func clientThatStopsReadingIsDroppedAndOthersAreServed() throws {
        let directory = TestDirectory()
        directory.write("site/huge.bin", Data(count: 64 * 1024 * 1024))
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(
            directory: directory, config: "routes: [{prefix: /, dir: site}]\ntimeouts: {send: 500ms, keepalive: 60s}")
        let stalled = try edge.connect()
        try stalled.send("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        // The client never reads: once the socket buffers are full, no write completes for `send`.
        #expect(edge.waitForLog(containing: "client stopped reading; closing", timeout: 20) != nil)
        #expect(try get(edge.port, "/a.txt").bodyText == "alpha")
    }

    @Test func aSlowButSteadyReaderOfALargeFileIsNotCutOff() throws {
        let directory = TestDirectory()
        directory.write("site/huge.bin", Data(count: 64 * 1024 * 1024))
        let edge = try EdgeProcess(
            directory: directory, config: "routes: [{prefix: /, dir: site}]\ntimeouts: {send: 1s, keepalive: 60s}")
        // A small fixed receive window keeps the bytes in flight small, so at this pace (about 1.3 MB/s) one 2 MiB
        // `sendfile` chunk takes longer than the send timeout: only the bytes the client acknowledges show progress.
        let reader = try RawConnection(port: edge.port, receiveBuffer: 64 * 1024)
        try reader.send("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        var received = 0
        while received < 4 * 1024 * 1024 {
            let count = try reader.readSome(64 * 1024)
            guard count > 0 else { break }
            received += count
            usleep(50_000)  // the slow client's pace, not a wait for the server
        }
        #expect(received >= 4 * 1024 * 1024)
        #expect(!edge.errorLog.contains("client stopped reading"))
    }
}

/// Whether this host has IPv6 loopback (containers sometimes have none).
private let hasIPv6Loopback: Bool = {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    } == 0
}()

@Suite struct IPv6ListenerTests {
    /// An IPv6 listener is made IPv6-only before it binds (the option cannot be set after); a failure there
    /// would stop it binding at all. Its clients are logged by their IPv6 address.
    @Test(.enabled(if: hasIPv6Loopback, "no IPv6 loopback on this host"))
    func servesIPv4AndIPv6ListenersSideBySide() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(
            directory: directory, listen: "  - address: 127.0.0.1:0\n  - address: \"[::1]:0\"",
            config: "routes: [{prefix: /, dir: site}]")
        #expect(try curl(["-g", "http://[::1]:\(edge.ports[1])/a.txt"]).output == "alpha")
        #expect(try curl(["http://127.0.0.1:\(edge.ports[0])/a.txt"]).output == "alpha")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.first?.hasPrefix("::1 - - [") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("127.0.0.1 - - [") == true, "\(lines)")
    }
}
