import Foundation
import TestSupport
import Testing

/// `routes[].allow` and `routes[].deny` against clients from several loopback addresses, for static and proxied
/// routes, with the client's address as `real_ip` decides it.
@Suite struct AccessRuleTests {
    let directory = TestDirectory()
    let upstream: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        directory.write("site/a.txt", "alpha")
        upstream = try FakeUpstream(
            directory: directory, name: "up.sock", behaviour: .fixed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        edge = try EdgeProcess(
            directory: directory,
            config: """
                upstreams: {app: {servers: ["unix:up.sock"]}}
                routes:
                  - {prefix: /private/, dir: site, allow: [127.0.0.2, 127.0.0.0/30], deny: [127.0.0.1]}
                  - {prefix: /app/, upstream: app, deny: [127.0.0.1]}
                  - {prefix: /, dir: site}
                real_ip: {trusted: [127.0.0.3/32]}
                """)
    }

    func status(_ path: String, from source: String, _ headers: String = "") throws -> Int {
        let connection = try RawConnection(port: edge.port, source: source)
        try connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\(headers)\r\n")
        return try connection.readResponse().status
    }

    @Test func rulesAllowAndDenyByTheClientsAddress() throws {
        // Denied first, then allowed only inside the allow list; other routes are not affected.
        #expect(try status("/private/a.txt", from: "127.0.0.1") == 403)
        #expect(try status("/private/a.txt", from: "127.0.0.2") == 200)
        #expect(try status("/private/a.txt", from: "127.0.0.5") == 403)
        #expect(try status("/a.txt", from: "127.0.0.1") == 200)
        // A proxied route refuses before anything reaches the upstream.
        #expect(try status("/app/x", from: "127.0.0.1") == 403)
        #expect(try status("/app/x", from: "127.0.0.2") == 200)
        #expect(upstream.requestLines.count == 1)
        // Percent-encoding routes the same way: it cannot slip past the rules.
        #expect(try status("/%70rivate/a.txt", from: "127.0.0.1") == 403)
        // Behind the trusted proxy the address it names is the one checked.
        #expect(try status("/private/a.txt", from: "127.0.0.3", "X-Forwarded-For: 127.0.0.1\r\n") == 403)
        #expect(try status("/private/a.txt", from: "127.0.0.3", "X-Forwarded-For: 127.0.0.2\r\n") == 200)
        let line = edge.waitForLog(containing: "access denied by the route's rules")
        #expect(line?.contains("client=127.0.0.1") == true && line?.contains("rule=\"deny 127.0.0.1/32\"") == true)
    }
}
