import Foundation
import TestSupport
import Testing

/// Edge against upstreams that break the rules: it answers the client correctly and keeps serving.
@Suite struct MisbehavingUpstreamTests {
    let directory = TestDirectory()
    let idleCloser: FakeUpstream
    let garbage: FakeUpstream
    let resetter: FakeUpstream
    let echo: FakeUpstream
    let reuseCloser: FakeUpstream
    let reusePartial: FakeUpstream
    let overrunner: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        idleCloser = try FakeUpstream(directory: directory, name: "idle.sock", behaviour: .answerThenCloseIdle)
        garbage = try FakeUpstream(directory: directory, name: "garbage.sock", behaviour: .garbage)
        resetter = try FakeUpstream(directory: directory, name: "reset.sock", behaviour: .resetMidResponse)
        echo = try FakeUpstream(directory: directory, name: "echo.sock", behaviour: .upgradeEcho)
        reuseCloser = try FakeUpstream(directory: directory, name: "reuse.sock", behaviour: .closeOnReuse(sending: ""))
        reusePartial = try FakeUpstream(
            directory: directory, name: "partial.sock", behaviour: .closeOnReuse(sending: "HTTP/1.1 200 OK\r\nContent-")
        )
        // Five bytes promised, then a whole second response in the same write: what a desynchronised or hostile app
        // sends to make the next client on a pooled connection read a response that was never theirs.
        overrunner = try FakeUpstream(
            directory: directory, name: "overrun.sock",
            behaviour: .fixed(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
        )
        edge = try EdgeProcess(
            directory: directory,
            config: """
                threads: 1
                upstreams:
                  idle: {servers: ["unix:idle.sock"]}
                  garbage: {servers: ["unix:garbage.sock"]}
                  reset: {servers: ["unix:reset.sock"]}
                  echo: {servers: ["unix:echo.sock"]}
                  reuse: {servers: ["unix:reuse.sock"]}
                  partial: {servers: ["unix:partial.sock"]}
                  overrun: {servers: ["unix:overrun.sock"]}
                routes:
                  - {prefix: /idle/, upstream: idle}
                  - {prefix: /garbage/, upstream: garbage}
                  - {prefix: /reset/, upstream: reset}
                  - {prefix: /ws/, upstream: echo}
                  - {prefix: /reuse/, upstream: reuse}
                  - {prefix: /partial/, upstream: partial}
                  - {prefix: /overrun/, upstream: overrun}
                timeouts: {upstream_response: 1s}
                """)
    }

    @Test func pooledConnectionClosedWhileIdleIsRetriedInvisibly() throws {
        let connection = try edge.connect()
        for round in 1...5 {
            try connection.send("GET /idle/x HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "ok")
            // The fake upstream closes the connection Edge just pooled; the next request must not notice.
            #expect(idleCloser.waitForClosed(round))
        }
        #expect(idleCloser.connections >= 5)
    }

    // The next four: the upstream takes a request on a pooled connection and closes it, as if it had timed the
    // connection out just then. Only an idempotent request with no response byte yet may be sent again.

    @Test func anIdempotentRequestOnAConnectionClosedUnderItIsSentAgain() throws {
        #expect(try get(edge.port, "/reuse/first").bodyText == "fresh")
        let retried = try get(edge.port, "/reuse/second")
        #expect(retried.status == 200)
        #expect(retried.bodyText == "fresh")
        #expect(reuseCloser.requestLines == ["GET /reuse/first", "GET /reuse/second", "GET /reuse/second"])
        #expect(reuseCloser.connections == 2)
    }

    @Test func aNonIdempotentRequestIsNeverSentTwice() throws {
        #expect(try get(edge.port, "/reuse/first").status == 200)
        let connection = try edge.connect()
        try connection.send("POST /reuse/order HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        #expect(try connection.readResponse().status == 502)
        #expect(reuseCloser.requestLines == ["GET /reuse/first", "POST /reuse/order"])
        #expect(edge.waitForLog(containing: "upstream closed the connection before responding") != nil)
        #expect(try get(edge.port, "/reuse/after").status == 200)
    }

    @Test func anIdempotentRequestWhoseBodyWentUpIsNeverSentTwice() throws {
        // PUT may be repeated, but its body was streamed up and is no longer held to send again.
        #expect(try get(edge.port, "/reuse/first").status == 200)
        let connection = try edge.connect()
        try connection.send("PUT /reuse/doc HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try connection.readResponse().status == 502)
        #expect(reuseCloser.requestLines == ["GET /reuse/first", "PUT /reuse/doc"])
    }

    @Test func aRequestWhoseResponseHadBegunIsNeverSentTwice() throws {
        #expect(try get(edge.port, "/partial/first").status == 200)
        #expect(try get(edge.port, "/partial/second").status == 502)
        #expect(reusePartial.requestLines == ["GET /partial/first", "GET /partial/second"])
        #expect(edge.waitForLog(containing: "connection closed in the middle of a response") != nil)
    }

    @Test func bytesPastTheEndOfAResponseNeverReachTheNextClient() throws {
        for client in 1...3 {
            let response = try get(edge.port, "/overrun/\(client)")
            #expect(response.status == 200)
            #expect(response.bodyText == "hello")
        }
        // The connection that carried surplus bytes is closed, never pooled: each request has a fresh one.
        #expect(overrunner.requestLines == ["GET /overrun/1", "GET /overrun/2", "GET /overrun/3"])
        #expect(overrunner.connections == 3)
        let warning = edge.waitForLog(containing: "upstream sent more than its response")
        #expect(warning?.contains("overrun.sock") == true)
        #expect(warning?.contains("request_id=") == true)
    }

    @Test func upgradedConnectionsAreTunnelledBothWays() throws {
        let connection = try edge.connect()
        // The first tunnelled bytes travel in the same packet as the request head.
        try connection.send("GET /ws/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly-")
        let switching = try connection.readResponse(isHead: true)
        #expect(switching.status == 101)
        #expect(switching.header("Upgrade") == "echo")
        #expect(switching.header("Connection")?.lowercased() == "upgrade")
        #expect(try connection.readExactly(6) == "early-")
        try connection.send("ping")
        #expect(try connection.readExactly(4) == "ping")
        try connection.send(String(repeating: "x", count: 100_000))
        #expect(try connection.readExactly(100_000) == String(repeating: "x", count: 100_000))
    }

    @Test func aTunnelSilentBothWaysIsClosedAfterUpstreamResponse() throws {
        let connection = try edge.connect()
        try connection.send("GET /ws/quiet HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        #expect(try connection.readResponse(isHead: true).status == 101)
        // Traffic every 300 ms keeps the tunnel open past `upstream_response` (1 s): the limit is on silence, not on
        // the tunnel's age. (The pace is the client's behaviour under test.)
        for message in 0..<6 {
            try connection.send("m\(message)")
            #expect(try connection.readExactly(2) == "m\(message)")
            usleep(300_000)
        }
        // Then nothing moves: Edge closes both ends instead of holding them for a client that may be gone.
        #expect(connection.waitForClose())
        #expect(edge.waitForLog(containing: "closing a tunnel silent both ways")?.contains("request_id=") == true)
        #expect(echo.waitForClosed(1))
    }

    @Test func garbageFromUpstreamIs502() throws {
        let response = try get(edge.port, "/garbage/x")
        #expect(response.status == 502)
        #expect(edge.waitForLog(containing: "proxy failed")?.contains("garbage.sock") == true)
    }

    @Test func resetMidResponseCutsTheClientConnection() throws {
        let connection = try edge.connect()
        try connection.send("GET /reset/x HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(throws: (any Error).self) { try connection.readResponse() }  // never a whole-looking response
        #expect(try get(edge.port, "/idle/x").status == 200)
    }
}
