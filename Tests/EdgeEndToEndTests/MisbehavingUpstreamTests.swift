import Foundation
import TestSupport
import Testing

/// Edge against upstreams that break the rules: it answers the client correctly and keeps serving.
@Suite struct MisbehavingUpstreamTests {
    let directory = TestDirectory()
    let idleCloser: FakeUpstream
    let garbage: FakeUpstream
    let resetter: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        idleCloser = try FakeUpstream(directory: directory, name: "idle.sock", behaviour: .answerThenCloseIdle)
        garbage = try FakeUpstream(directory: directory, name: "garbage.sock", behaviour: .garbage)
        resetter = try FakeUpstream(directory: directory, name: "reset.sock", behaviour: .resetMidResponse)
        edge = try EdgeProcess(
            directory: directory,
            config: """
                threads: 1
                upstreams:
                  idle: {servers: ["unix:idle.sock"]}
                  garbage: {servers: ["unix:garbage.sock"]}
                  reset: {servers: ["unix:reset.sock"]}
                routes:
                  - {prefix: /idle/, upstream: idle}
                  - {prefix: /garbage/, upstream: garbage}
                  - {prefix: /reset/, upstream: reset}
                """)
    }

    @Test func pooledConnectionClosedWhileIdleIsRetriedInvisibly() throws {
        let connection = try edge.connect()
        for _ in 0..<5 {
            try connection.send("GET /idle/x HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "ok")
            usleep(150_000)  // the fake upstream has closed the pooled connection by now
        }
        #expect(idleCloser.connections >= 5)
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
