import Foundation
import TestSupport
import Testing

/// Two upstream servers whose answers the test releases one by one, so the requests each has in flight are known
/// exactly when the next request is routed.
@Suite struct LoadBalancingTests {
    let directory = TestDirectory()
    let first: FakeUpstream
    let second: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        first = try FakeUpstream(directory: directory, name: "first.sock", behaviour: .onCue(first: "", rest: answer))
        second = try FakeUpstream(directory: directory, name: "second.sock", behaviour: .onCue(first: "", rest: answer))
        edge = try EdgeProcess(
            directory: directory,
            config: """
                threads: 1
                upstreams:
                  pair: {servers: ["unix:first.sock", "unix:second.sock"]}
                routes:
                  - {prefix: /, upstream: pair}
                """)
    }

    /// Sends `path` on a connection of its own and waits until `expectedTotal` requests have reached the two
    /// servers, so the next request is routed with this one in flight.
    private func startRequest(_ path: String, expectedTotal: Int) throws -> RawConnection {
        let connection = try edge.connect()
        try connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(eventually(within: 10) { first.requestLines.count + second.requestLines.count == expectedTotal })
        return connection
    }

    @Test func eachRequestGoesToTheServerWithFewestInFlight() throws {
        // In flight (first, second): 0-0, ties go to the first listed; then 1-0, 1-1, 2-1.
        let one = try startRequest("/1", expectedTotal: 1)
        let two = try startRequest("/2", expectedTotal: 2)
        let three = try startRequest("/3", expectedTotal: 3)
        let four = try startRequest("/4", expectedTotal: 4)
        #expect(first.requestLines == ["GET /1", "GET /3"])
        #expect(second.requestLines == ["GET /2", "GET /4"])

        // The first server finishes both: 0-2. Round robin would now alternate; least connections sends the next
        // two to the first server (0-2, then 1-2).
        first.release()
        first.release()
        #expect(try one.readResponse().status == 200)
        #expect(try three.readResponse().status == 200)
        let five = try startRequest("/5", expectedTotal: 5)
        let six = try startRequest("/6", expectedTotal: 6)
        #expect(first.requestLines == ["GET /1", "GET /3", "GET /5", "GET /6"])
        #expect(second.requestLines == ["GET /2", "GET /4"])

        for _ in 0..<2 {
            first.release()
            second.release()
        }
        for connection in [two, four, five, six] { #expect(try connection.readResponse().bodyText == "ok") }
    }
}
