import Foundation
import TestSupport
import Testing

/// HTTP/2 attackers that stay within the protocol, or come back after being cut off (`Support/h2_attack.py`, raw
/// frames over TLS): what bounds each is a limit per client or a timeout, and a well-behaved client (from another
/// address) is served throughout.
@Suite struct HTTP2PersistentAttackTests {
    static let rate = 20
    static let burst = 20

    let directory = TestDirectory()
    let edge: EdgeProcess

    init() throws {
        edge = try HTTP2AttackTests.startEdge(
            in: directory,
            config: """
                timeouts: {header: 2s, body: 2s, send: 2s}
                limits: {max_connections_per_ip: 2}
                routes:
                  - prefix: /static/
                    dir: site
                    rate_limit: {rate: \(Self.rate)/s, burst: \(Self.burst), nodelay: true}
                  - prefix: /unlimited/
                    dir: site
                """)
    }

    private func attack(_ arguments: [String]) throws -> [String: Any] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Support/h2_attack.py")
        let (name, rest) = (arguments[0], arguments.dropFirst())
        let result = try runToCompletion(
            "/usr/bin/env",
            ["python3", script.path, String(edge.port), name, String(edge.process.processIdentifier)] + rest)
        let line = try #require(result.output.split(separator: "\n").last, "no report: \(result.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
    }

    private func statuses(from client: String, in log: [String]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in log where line.hasPrefix(client + " ") {
            let fields = line.split(separator: "\"")
            guard fields.count > 2, let status = fields[2].split(separator: " ").first else { continue }
            counts[String(status), default: 0] += 1
        }
        return counts
    }

    /// CVE-2023-44487 from a client that obeys every GOAWAY and reconnects at once, on six connections at a time:
    /// each connection ends with ENHANCE_YOUR_CALM, connections past `max_connections_per_ip` are refused, and the
    /// requests past the route's `rate_limit` are refused before any work, so what the attacker gets served is
    /// bounded by the rate, not by how fast it can reconnect.
    @Test func aReconnectingRapidResetMeetsThePerClientLimits() throws {
        let report = try attack(["rapid-reset-reconnect", "4"])
        let codes = report["goaway_codes"] as? [String: Int] ?? [:]
        #expect((codes["11"] ?? 0) >= 2, "every connection is cut with ENHANCE_YOUR_CALM: \(report)")
        #expect((report["refused"] as? Int ?? 0) > 0, "max_connections_per_ip refused none: \(report)")
        #expect((report["rss_max_kb"] as! Int) - (report["rss_start_kb"] as! Int) < 64 << 10, "\(report)")
        #expect(
            report["well_behaved_failed"] as? Int == 0 && (report["well_behaved_ok"] as? Int ?? 0) >= 3, "\(report)")
        #expect(edge.waitForLog(containing: "max_connections_per_ip reached") != nil)

        let log = try edge.stopAndReadAccessLog()
        let attacker = statuses(from: "127.0.0.1", in: log)
        // The burst, then the rate, over the attack and a second's slack for its first and last connections.
        let seconds = (report["seconds"] as? Double ?? 0) + 1
        let allowed = Self.burst + Int(Double(Self.rate) * seconds)
        #expect((attacker["200"] ?? 0) <= allowed, "served \(attacker), at most \(allowed) allowed")
        #expect((attacker["429"] ?? 0) > allowed, "the rate limit refused little: \(attacker)")
    }

    /// Small responses on streams whose window the client keeps at 0: each is given up after `timeouts.send`
    /// (nothing else would end them: the connection is not idle while they are open).
    @Test func responsesAWindowHoldsBackAreGivenUp() throws {
        let report = try attack(["zero-window", "10", "/unlimited/a.txt"])
        #expect(report["settled"] as? Bool == true, "\(report)")
        #expect(report["resets"] as? Int == 100, "every stream reset after timeouts.send: \(report)")
        #expect(report["well_behaved_failed"] as? Int == 0, "\(report)")
        #expect(edge.waitForLog(containing: "client stopped reading; closing") != nil)
    }

    /// Thirty 4 MiB downloads on one connection, each stream held back by its window on the way, all read to the
    /// end: no send timer outlives its stream. (A stream reported itself unwritable after closing, and the timer
    /// scheduled then fired `timeouts.send` later with a false "client stopped reading" line; meanwhile every such
    /// timer slowed the loop, to a tenth of its rate at 2 x 100 streams.) The hundred zero-window streams that
    /// follow are given up after the same timeout, later than any leftover would fire: the count of such lines
    /// is theirs alone.
    @Test func finishedDownloadsLeaveNoSendTimerBehind() throws {
        let list = (1...30).map {
            "url = \"https://localhost:\(edge.port)/unlimited/big.bin?\($0)\"\noutput = /dev/null"
        }
        let config = directory.write("downloads.cfg", list.joined(separator: "\n") + "\n")
        let downloads = try curl([
            "--http2", "-Z", "--parallel-max", "30", "--resolve", "localhost:\(edge.port):127.0.0.1", "-K", config,
            "-w", "%{http_version} %{http_code} %{size_download}\n",
        ])
        // curl -Z draws its progress meter on the same output; the answers are the lines of `-w`.
        let answers = downloads.output.split(separator: "\n").filter { $0.hasPrefix("2 ") }
        #expect(answers.count == 30 && answers.allSatisfy { $0 == "2 200 \(16 << 18)" }, "\(downloads.output)")

        let report = try attack(["zero-window", "10", "/unlimited/a.txt"])
        #expect(report["resets"] as? Int == 100, "\(report)")
        let stopped = edge.errorLog.components(separatedBy: "client stopped reading").count - 1
        #expect(stopped == 100, "\(stopped) lines for 100 streams given up")
    }

    /// A hundred request bodies, a byte per stream every 1.2 s against a 2 s `timeouts.body`: the streams live while
    /// the bytes come (as nginx's `client_body_timeout`, the timeout is between reads), cost little, and a stream
    /// whose bytes stop gets 408 two seconds after its last one.
    @Test func trickledBodiesAreHeldCheaplyAndCutWhenTheyStall() throws {
        let report = try attack(["trickled-bodies", "4", "1.2", "/unlimited/a.txt"])
        #expect(report["going_answered"] as? Int == 0, "a stream still trickling was cut: \(report)")
        #expect(report["stopped_answered"] as? Int == 50, "\(report)")
        #expect((report["rss_growth_kb"] as? Int ?? .max) < 16 << 10, "\(report)")
        #expect(
            report["well_behaved_failed"] as? Int == 0 && (report["well_behaved_ok"] as? Int ?? 0) >= 3, "\(report)")
        let log = try edge.stopAndReadAccessLog()
        #expect(statuses(from: "127.0.0.1", in: log)["408"] == 50, "\(log.suffix(3))")
    }

    /// HTTP/2's slowloris: a HEADERS frame a byte a second never opens a stream, so no stream timer runs; the
    /// connection is closed `timeouts.header` after the frame's first byte.
    @Test func aHeadSentAByteASecondIsCutOffAfterTheHeaderTimeout() throws {
        let report = try attack(["slow-head", "20"])
        #expect(report["closed"] as? Bool == true, "\(report)")
        #expect((report["bytes_sent"] as? Int ?? .max) < (report["frame_length"] as? Int ?? 0), "\(report)")
        #expect(report["well_behaved_failed"] as? Int == 0, "\(report)")
        #expect(
            edge.waitForLog(containing: "HTTP/2 request head not received in time; closing client=127.0.0.1") != nil)
    }
}
