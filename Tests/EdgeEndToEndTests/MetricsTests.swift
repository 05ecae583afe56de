import Foundation
import TestSupport
import Testing

/// Edge's admin listener: `/metrics` counts exactly what was sent, passes `promtool`, and `/status` shows the
/// connections and upstreams there are.
@Suite struct MetricsTests {
    let directory = TestDirectory()

    init() {
        directory.write("site/a.txt", "alpha")
    }

    /// Edge with a plain and a TLS listener, a static route, a route to an upstream nobody listens on, and the
    /// admin listener on a free port.
    private func start() throws -> (edge: EdgeProcess, admin: String) {
        let certificates = try TestCertificates(in: directory)
        let edge = try EdgeProcess(
            directory: directory,
            listen: "  - address: 127.0.0.1:0\n" + certificates.tlsListener,
            config: """
                threads: 1
                admin: {listen: 127.0.0.1:0}
                upstreams:
                  dead: {servers: [unix:\(directory.path)/nobody.sock]}
                routes:
                  - {prefix: /, dir: site}
                  - {prefix: /app/, upstream: dead}
                """)
        let line = try #require(edge.waitForLog(containing: "admin listener on"), "\(edge.errorLog)")
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) })
        return (edge, "http://127.0.0.1:\(port)")
    }

    @Test func countsMoveByExactlyWhatWasSent() throws {
        let (edge, admin) = try start()
        let plain = "http://127.0.0.1:\(edge.port)"
        let before = try PrometheusScrape.fetch(admin + "/metrics")
        #expect(before.value("edge_requests_total") == 0)

        let connection = try edge.connect()
        for _ in 0..<5 {
            try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().status == 200)
        }
        for _ in 0..<2 {
            try connection.send("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().status == 404)
        }
        try connection.send("HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.readResponse(isHead: true).status == 200)
        let proxied = try edge.connect()
        try proxied.send("GET /app/x HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try proxied.readResponse().status == 502)
        let long = try edge.connect()
        try long.send("GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try long.readResponse().status == 414)
        // One request over TLS and HTTP/2, and plain HTTP sent to the TLS port (a failed handshake).
        let tlsPort = edge.ports[1]
        let h2 = try curl(["--http2", "-w", " %{http_version}", "https://localhost:\(tlsPort)/a.txt"])
        #expect(h2.output == "alpha 2", "\(h2.output)")
        let wrongProtocol = try RawConnection(port: tlsPort)
        try wrongProtocol.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")

        var after = try PrometheusScrape.fetch(admin + "/metrics")
        #expect(
            eventually(within: 10) {
                after = (try? PrometheusScrape.fetch(admin + "/metrics")) ?? after
                // Connections answered with `Connection: close` linger a moment, reading what still comes.
                return after.value("edge_tls_handshake_failures_total") == 1
                    && after.value("edge_connections", ["state": "active"]) == 0
            }, "\(after.text)")
        let onPlain = ["listener": plain, "route": "/"]
        #expect(after.value("edge_requests_total", onPlain.merging(["method": "GET", "status": "2xx"]) { $1 }) == 5)
        #expect(after.value("edge_requests_total", onPlain.merging(["method": "GET", "status": "4xx"]) { $1 }) == 2)
        // A head refused for its size was never parsed: no route, and GET stands in for its method.
        #expect(after.value("edge_requests_total", ["listener": plain, "route": "-", "status": "4xx"]) == 1)
        #expect(after.value("edge_requests_total", onPlain.merging(["method": "HEAD"]) { $1 }) == 1)
        #expect(after.value("edge_requests_total", ["route": "/app/", "status": "5xx"]) == 1)
        #expect(after.value("edge_requests_total", ["listener": "https://127.0.0.1:\(tlsPort)", "method": "GET"]) == 1)
        #expect(after.value("edge_request_duration_seconds_count") == 11)
        #expect(after.value("edge_refused_total", ["reason": "414"]) == 1)
        #expect(after.value("edge_upstream_failures_total", ["kind": "refused"]) == 1)
        #expect(after.value("edge_tls_handshakes_total") == 1)
        #expect(after.value("edge_tls_handshake_failures_total", ["reason": "plain_http"]) == 1)
        #expect(after.value("edge_open_file_cache_lookups_total", ["result": "hit"]) >= 5)
        #expect(after.value("edge_sent_body_bytes_total") >= 6 * 5)
        // The keep-alive connection waits for its next request; the others are closed.
        #expect(after.value("edge_connections", ["protocol": "h1", "state": "idle"]) == 1)
        #expect(after.value("edge_connections", ["state": "active"]) == 0)
        #expect(after.value("edge_build_info", ["version": "0.1.0"]) == 1)
        #expect(after.value("process_resident_memory_bytes") > 1_000_000)
        #expect(try after.promtoolProblems() == nil)

        // The status page agrees, in JSON and in HTML.
        let status = try curl([admin + "/status?format=json"]).output
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        let connections = try #require(json["connections"] as? [String: Any])
        #expect(connections["open"] as? Int == 1, "\(status)")
        let requests = try #require(json["requests"] as? [String: Any])
        #expect(requests["total"] as? Int == 11)
        let upstreams = try #require(json["upstreams"] as? [[String: Any]])
        #expect(upstreams.count == 1)
        #expect((upstreams.first?["state"] as? String)?.hasPrefix("down") == true, "\(status)")
        let page = try curl([admin + "/status"]).output
        #expect(page.contains("<h2>connections</h2>") && page.contains("nobody.sock"), "\(page)")
        #expect(try curl(["-o", "/dev/null", "-w", "%{http_code}", admin + "/other"]).output == "404")
    }

    @Test func reloadsAreCountedByResult() throws {
        let (edge, admin) = try start()
        let config = try String(contentsOfFile: edge.configPath, encoding: .utf8)
        edge.signal(SIGHUP)
        #expect(edge.waitForLog(containing: "HUP: configuration reloaded") != nil)
        directory.write("edge.yaml", config + "\nnonsense_key: 1\n")
        edge.signal(SIGHUP)
        #expect(edge.waitForLog(containing: "HUP: configuration refused") != nil)
        let scrape = try PrometheusScrape.fetch(admin + "/metrics")
        #expect(scrape.value("edge_config_reloads_total", ["result": "applied"]) == 1)
        #expect(scrape.value("edge_config_reloads_total", ["result": "refused"]) == 1)
    }

    @Test func theAdminListenerCannotBeAPublicOne() throws {
        let config = directory.write(
            "shared.yaml",
            """
            listen: [{address: 127.0.0.1:18999}]
            admin: {listen: 127.0.0.1:18999}
            routes: [{prefix: /, dir: site}]
            """)
        let check = try runToCompletion(EdgeProcess.binary, ["--check", "--config", config])
        #expect(check.status != 0)
        #expect(check.output.contains("admin.listen"), "\(check.output)")
        #expect(check.output.contains("address of its own"), "\(check.output)")
    }

    @Test func withoutAdminThereIsNoAdminListener() throws {
        let edge = try EdgeProcess(directory: directory, config: "routes: [{prefix: /, dir: site}]")
        #expect(!edge.errorLog.contains("admin listener"))
    }
}
