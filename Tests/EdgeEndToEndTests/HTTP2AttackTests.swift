import Foundation
import TestSupport
import Testing

/// The published HTTP/2 denial-of-service attacks, each from a client that goes on sending after Edge's GOAWAY
/// (`Support/h2_attack.py`, raw frames over TLS). Edge must close the connection, take in no more than the socket
/// buffers hold after its GOAWAY, keep its memory, name the last stream it processed, log the close for fail2ban, and
/// serve a well-behaved client on other connections meanwhile.
@Suite struct HTTP2AttackTests {
    struct Attack: Sendable, CustomTestStringConvertible {
        let name: String
        let errorCode: Int
        let codeName: String
        /// The GOAWAY's last stream: stream 1 (answered before the attack) unless the attack's streams were processed.
        var lastStreamID: ClosedRange<Int> = 1...1
        var testDescription: String { name }
    }

    static let attacks = [
        // CVE-2024-27316: a header block that never ends.
        Attack(name: "continuation", errorCode: 0x1, codeName: "PROTOCOL_ERROR"),
        Attack(name: "continuation-tiny", errorCode: 0xb, codeName: "ENHANCE_YOUR_CALM"),
        Attack(name: "hpack-bomb", errorCode: 0x9, codeName: "COMPRESSION_ERROR"),
        // CVE-2023-44487: each stream is processed until the resets are too many.
        Attack(
            name: "rapid-reset", errorCode: 0xb, codeName: "ENHANCE_YOUR_CALM", lastStreamID: 3...Int(Int32.max - 1)),
        // Streams that never end, past SETTINGS_MAX_CONCURRENT_STREAMS (128): streams 3 to 257 were taken.
        Attack(name: "too-many-streams", errorCode: 0x1, codeName: "PROTOCOL_ERROR", lastStreamID: 257...257),
        Attack(name: "settings-flood", errorCode: 0xb, codeName: "ENHANCE_YOUR_CALM"),
        Attack(name: "ping-flood", errorCode: 0xb, codeName: "ENHANCE_YOUR_CALM"),
    ]

    struct Report: Decodable {
        struct GoAway: Decodable {
            let last_stream_id: Int
            let error_code: Int
        }
        let goaway: GoAway?
        let goaways: Int
        let closed: Bool
        let first_request_answered: Bool
        let bytes_sent_after_goaway: Int?
        let rss_start_kb: Int
        let rss_max_kb: Int
        let well_behaved_ok: Int
        let well_behaved_failed: Int
    }

    let directory = TestDirectory()
    let edge: EdgeProcess

    init() throws {
        edge = try Self.startEdge(in: directory, config: "routes: [{prefix: /static/, dir: site}]")
    }

    /// Edge on a TLS listener, with `site/a.txt` (5 bytes) and `site/big.bin` (4 MiB) for `config`'s routes.
    static func startEdge(in directory: TestDirectory, config: String) throws -> EdgeProcess {
        let certificates = try TestCertificates(in: directory)
        directory.write("site/a.txt", "alpha")
        directory.write("site/big.bin", String(repeating: "0123456789abcdef", count: 256 << 10))
        return try EdgeProcess(directory: directory, listen: certificates.tlsListener, config: config)
    }

    @Test(arguments: attacks)
    func theConnectionIsClosedAndNothingMoreIsTakenIn(attack: Attack) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Support/h2_attack.py")
        // The client gives Edge 4 seconds after the GOAWAY to close; before the fix it was never closed.
        let result = try runToCompletion(
            "/usr/bin/env",
            ["python3", script.path, String(edge.port), attack.name, String(edge.process.processIdentifier), "4"])
        let line = try #require(result.output.split(separator: "\n").last, "no report: \(result.output)")
        let report = try JSONDecoder().decode(Report.self, from: Data(line.utf8))

        #expect(report.first_request_answered)
        let goAway = try #require(report.goaway, "no GOAWAY: \(line)")
        #expect(goAway.error_code == attack.errorCode)
        #expect(attack.lastStreamID.contains(goAway.last_stream_id), "\(line)")
        #expect(report.goaways == 1, "one GOAWAY, then nothing: \(line)")
        #expect(report.closed, "the connection was still open 4 seconds after the GOAWAY: \(line)")
        // What the client could still send after the GOAWAY is what the sockets' buffers hold, not what Edge reads.
        #expect((report.bytes_sent_after_goaway ?? 0) < 16 << 20, "\(line)")
        #expect(report.rss_max_kb - report.rss_start_kb < 64 << 10, "Edge's memory grew: \(line)")
        #expect(report.well_behaved_failed == 0 && report.well_behaved_ok >= 3, "\(line)")
        #expect(
            edge.waitForLog(
                containing: "HTTP/2 connection closed for a protocol error client=127.0.0.1 code=\(attack.codeName)")
                != nil, "no log line for fail2ban")
    }

    /// 100 streams of a 4 MiB file that the client's window (0) never lets out: Edge reads ahead only what one
    /// stream may hold, not the file. About 58 KiB per stream (25 of them the stream itself); 400 KiB before.
    @Test func aStreamBlockedByFlowControlHoldsLittle() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Support/h2_attack.py")
        let result = try runToCompletion(
            "/usr/bin/env",
            ["python3", script.path, String(edge.port), "zero-window", String(edge.process.processIdentifier), "0"])
        struct Report: Decodable {
            let heads: Int
            let settled: Bool
            let per_stream_kb: Double
        }
        let line = try #require(result.output.split(separator: "\n").last, "no report: \(result.output)")
        let report = try JSONDecoder().decode(Report.self, from: Data(line.utf8))
        #expect(report.settled && report.heads == 100, "\(line)")
        #expect(report.per_stream_kb < 128, "\(line)")
    }
}
