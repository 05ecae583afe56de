import Foundation
import TestSupport
import Testing

/// `routes[].rate_limit` against the real binary: refusals with `Retry-After` on connections that stay open, keys
/// per client and per header, a burst that waits its turn, `dry_run`, and buckets that survive a HUP.
@Suite struct RateLimitEndToEndTests {
    let directory = TestDirectory()
    let upstream: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        directory.write("site/a.txt", "alpha")
        upstream = try FakeUpstream(
            directory: directory, name: "up.sock", behaviour: .fixed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        edge = try EdgeProcess(directory: directory, config: Self.config(strictRate: "1/m"))
    }

    static func config(strictRate: String) -> String {
        """
        upstreams: {app: {servers: ["unix:up.sock"]}}
        routes:
          - {prefix: /strict/, dir: site, rate_limit: {rate: \(strictRate)}}
          - {prefix: /burst/, dir: site, rate_limit: {rate: 1/s, burst: 2}}
          - {prefix: /dry/, dir: site, rate_limit: {rate: 1/m, dry_run: true}}
          - {prefix: /api/, upstream: app, rate_limit: {rate: 1/m, key: "header:X-Api-Key"}}
          - {prefix: /, dir: site}
        """
    }

    func get(_ path: String, on connection: RawConnection, _ headers: String = "") throws -> RawConnection.Response {
        try connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\(headers)\r\n")
        return try connection.readResponse()
    }

    @Test func aClientOverTheRateIsRefusedWithRetryAfterAndKeepsItsConnection() throws {
        let connection = try RawConnection(port: edge.port, source: "127.0.0.1")
        #expect(try get("/strict/a.txt", on: connection).status == 200)
        let refused = try get("/strict/a.txt", on: connection)
        #expect(refused.status == 429)
        // 1/m: the bucket has room again in about a minute.
        let retryAfter = try #require(refused.header("Retry-After").flatMap { Int($0) })
        #expect((58...60).contains(retryAfter))
        // The connection goes on, and only the limited route is limited.
        #expect(try get("/a.txt", on: connection).status == 200)
        // Another client has its own bucket.
        #expect(try get("/strict/a.txt", on: RawConnection(port: edge.port, source: "127.0.0.2")).status == 200)
        let line = edge.waitForLog(containing: "request refused by rate_limit")
        #expect(line?.contains("client=127.0.0.1") == true && line?.contains("zone=/strict/") == true, "\(line ?? "")")
        // A refused request with a body is answered at once and its connection closed after the drain.
        let withBody = try RawConnection(port: edge.port, source: "127.0.0.1")
        try withBody.send("POST /strict/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        #expect(try withBody.readResponse().status == 429)
        #expect(withBody.waitForClose())
    }

    @Test func aHeaderKeyLimitsEachKeyAndNothingRefusedReachesTheUpstream() throws {
        let connection = try edge.connect()
        #expect(try get("/api/x", on: connection, "X-Api-Key: one\r\n").status == 200)
        #expect(try get("/api/x", on: connection, "X-Api-Key: one\r\n").status == 429)
        #expect(try get("/api/x", on: connection, "X-Api-Key: two\r\n").status == 200)
        // Without the field the request is not limited, as nginx leaves an empty key alone.
        #expect(try get("/api/x", on: connection).status == 200)
        #expect(try get("/api/x", on: connection).status == 200)
        #expect(upstream.requestLines.count == 4)
    }

    @Test func requestsWithinTheBurstWaitAndTheOneBeyondIsRefused() throws {
        // Four at once at 1/s with a burst of 2: one now, two released a second apart, one refused.
        let connections = try (0..<4).map { _ in try edge.connect() }
        for connection in connections { try connection.send("GET /burst/a.txt HTTP/1.1\r\nHost: x\r\n\r\n") }
        let statuses = try connections.map { try $0.readResponse().status }.sorted()
        #expect(statuses == [200, 200, 200, 429])
    }

    @Test func dryRunServesEverythingAndLogsWhatItWouldRefuse() throws {
        let connection = try edge.connect()
        #expect(try get("/dry/a.txt", on: connection).status == 200)
        #expect(try get("/dry/a.txt", on: connection).status == 200)
        let line = edge.waitForLog(containing: "rate_limit would refuse a request (dry_run)")
        #expect(line?.contains("zone=/dry/") == true)
    }

    @Test func aReloadKeepsTheBucketsOfAnUnchangedZone() throws {
        #expect(try get("/strict/a.txt", on: edge.connect()).status == 200)
        #expect(try get("/strict/a.txt", on: edge.connect()).status == 429)
        // Another route changes; /strict/ does not: still refused after the HUP.
        let yaml = try String(contentsOfFile: edge.configPath, encoding: .utf8)
        directory.write(
            "edge.yaml",
            yaml.replacingOccurrences(
                of: "{prefix: /, dir: site}", with: "{prefix: /, dir: site, cache_control: no-cache}"))
        edge.signal(SIGHUP)
        #expect(edge.waitForLog(containing: "HUP: configuration reloaded") != nil)
        #expect(try get("/strict/a.txt", on: edge.connect()).status == 429)
        // A new rate is a new zone: the client starts afresh.
        directory.write("edge.yaml", yaml.replacingOccurrences(of: "rate: 1/m}", with: "rate: 2/m}"))
        edge.signal(SIGHUP)
        #expect(
            eventually(within: 10) { edge.errorLog.components(separatedBy: "HUP: configuration reloaded").count == 3 })
        #expect(try get("/strict/a.txt", on: edge.connect()).status == 200)
    }
}
