import Foundation
import TestSupport
import Testing

/// W3C Trace Context through the pair: Edge passes a valid `traceparent` on (or starts one), and both access logs
/// and the app name the same trace id and request id.
@Suite struct TraceContextTests {
    let directory = TestDirectory()

    private func start(mode: String) throws -> (pair: EdgeAndAppServer, appLog: String) {
        let appLog = directory.path + "/app-access.log"
        let pair = try EdgeAndAppServer(
            in: directory, appExtra: "access_log: \(appLog)\naccess_log_format: json\n",
            config: "access_log_format: json\ntrace_context: \(mode)\nroutes: [{prefix: /, upstream: app}]")
        return (pair, appLog)
    }

    /// What the app saw of a request sent with `headers`.
    private func echo(_ edge: EdgeProcess, headers: [String] = []) throws -> [String: Any] {
        let connection = try edge.connect()
        let extra = headers.map { $0 + "\r\n" }.joined()
        try connection.send("GET /echo HTTP/1.1\r\nHost: x\r\n\(extra)\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 200)
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    private func header(_ name: String, in echo: [String: Any]) -> [String] {
        (echo["headers"] as? [[String: String]] ?? []).filter { $0["name"]?.lowercased() == name }.compactMap {
            $0["value"]
        }
    }

    private func jsonLines(_ path: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func aValidTraceparentReachesTheAppAndBothLogsNameItsTrace() throws {
        let (pair, appLog) = try start(mode: "pass")
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let seen = try echo(
            pair.edge, headers: ["traceparent: \(parent)", "tracestate: vendor=opaque, other=x"])
        #expect(header("traceparent", in: seen) == [parent])
        #expect(header("tracestate", in: seen) == ["vendor=opaque, other=x"])
        #expect(seen["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        let requestID = try #require(seen["request_id"] as? String)

        // Invalid ones do not pass (uppercase hex, an all-zero trace id); without one, none is made under `pass`.
        for invalid in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            let dropped = try echo(pair.edge, headers: ["traceparent: \(invalid)"])
            #expect(header("traceparent", in: dropped).isEmpty, "\(invalid)")
            #expect(dropped["trace_id"] is NSNull)
        }
        #expect(header("traceparent", in: try echo(pair.edge)).isEmpty)

        let edgeLines = try pair.edge.stopAndReadAccessLog().compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        // Lines come in batches per event loop, so they are found by request id, not by order.
        let traced = edgeLines.filter { $0["trace_id"] != nil }
        #expect(traced.count == 1 && edgeLines.count == 4, "\(edgeLines)")
        #expect(traced.first?["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(traced.first?["request_id"] as? String == requestID)
        // AppServer writes its access log in batches, at least once a second.
        var appLines: [[String: Any]] = []
        #expect(
            eventually(within: 10) {
                appLines = jsonLines(appLog)
                return appLines.count >= 4
            })
        let appTraced = appLines.filter { $0["trace_id"] != nil }
        #expect(appTraced.first?["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736", "\(appLines)")
        #expect(appTraced.count == 1 && appTraced.first?["request_id"] as? String == requestID)
    }

    @Test func startGivesEveryProxiedRequestATrace() throws {
        let (pair, _) = try start(mode: "start")
        let first = try echo(pair.edge)
        let second = try echo(pair.edge, headers: ["traceparent: not-a-traceparent"])
        let parents = header("traceparent", in: first) + header("traceparent", in: second)
        #expect(parents.count == 2)
        #expect(
            parents.allSatisfy {
                $0.range(of: #"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$"#, options: .regularExpression) != nil
            })
        #expect(first["trace_id"] as? String != second["trace_id"] as? String)
        // A valid one is still passed on as it came.
        let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
        #expect(header("traceparent", in: try echo(pair.edge, headers: ["traceparent: \(parent)"])) == [parent])
    }

    @Test func anUnknownModeIsRefused() throws {
        let config = directory.write(
            "bad.yaml", "listen: [{address: 127.0.0.1:0}]\ntrace_context: always\nroutes: []\n")
        let check = try runToCompletion(EdgeProcess.binary, ["--check", "--config", config])
        #expect(check.status != 0)
        #expect(check.output.contains("trace_context") && check.output.contains("pass or start"), "\(check.output)")
    }
}
