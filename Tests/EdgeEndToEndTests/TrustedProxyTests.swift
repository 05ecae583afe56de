import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Edge behind a CDN: the test client plays Cloudflare from a trusted address (127.0.0.1), so the visitor's address
/// comes from `CF-Connecting-IP`, reaches the app, and is what the access log shows, for proxied and static
/// requests alike.
@Suite struct TrustedProxyTests {
    let directory = TestDirectory()
    let pair: EdgeAndAppServer
    var edge: EdgeProcess { pair.edge }
    var appLog: LineCollector { pair.appLog }

    init() throws {
        directory.write("site/s.txt", "static")
        pair = try EdgeAndAppServer(
            in: directory, appSettings: "{media_dir: media}",
            config: """
                routes:
                  - {prefix: /static/, dir: site}
                  - {prefix: /, upstream: app}
                real_ip: {trusted: [127.0.0.1/32], header: CF-Connecting-IP}
                """)
    }

    @Test func theVisitorsAddressReachesTheAppAndTheAccessLog() throws {
        let proxied = try get(edge.port, "/echo", "CF-Connecting-IP: 198.51.100.23", "X-Request-ID: trace-42")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(proxied.body)) as? [String: Any])
        let headers = (object["headers"] as? [[String: String]] ?? []).reduce(into: [String: String]()) {
            $0[$1["name"]!.lowercased()] = $1["value"]!
        }
        #expect(headers["x-real-ip"] == "198.51.100.23")
        #expect(headers["cf-connecting-ip"] == "198.51.100.23")  // from the CDN itself: apps may read it directly
        #expect(headers["x-forwarded-for"] == "127.0.0.1")  // the chain as it reached Edge: only the CDN's hop
        #expect(headers["x-request-id"] == "trace-42")  // a trusted peer's well-formed id is kept
        #expect(proxied.header("X-Request-ID") == "trace-42")

        #expect(try get(edge.port, "/static/s.txt", "CF-Connecting-IP: 203.0.113.9").bodyText == "static")
        #expect(try get(edge.port, "/static/s.txt", "CF-Connecting-IP: not-an-address").status == 200)

        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.count == 3)
        #expect(lines.first { $0.contains("GET /echo") }?.hasPrefix("198.51.100.23 - - [") == true)
        #expect(lines.first { $0.contains("GET /echo") }?.hasSuffix(" request_id=trace-42") == true)
        #expect(
            lines.filter { $0.contains("GET /static/s.txt") }.map { $0.prefix { $0 != " " } } == [
                "203.0.113.9", "127.0.0.1",
            ])
    }
}
