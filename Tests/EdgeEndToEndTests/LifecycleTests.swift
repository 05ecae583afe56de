import Foundation
import TestSupport
import Testing

/// Command line, access log and graceful stop of the real binary.
@Suite struct LifecycleTests {
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runToCompletion(EdgeProcess.binary, arguments)
    }

    @Test func helpAndVersion() throws {
        let help = try run(["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("--config"))
        #expect(help.output.contains("--check"))
        let version = try run(["--version"])
        #expect(version.status == 0)
        #expect(version.output.split(separator: ".").count == 3)
        let bad = try run(["--no-such-flag"])
        #expect(bad.status != 0)
        #expect(bad.output.contains("--no-such-flag"))
    }

    @Test func checkAcceptsGoodAndListsEveryProblem() throws {
        let directory = TestDirectory()
        directory.makeDirectory("www")
        let good = directory.write("good.yaml", "routes: [{prefix: /, dir: www}]\n")
        #expect(try run(["--check", "--config", good]).status == 0)

        let bad = directory.write(
            "bad.yaml",
            """
            listen: [{address: "127.0.0.1:70000"}]
            limits: {max_header_size: big}
            timeouts: {keepalive: later}
            routes: [{prefix: /, dir: missing}]
            colour: blue
            access_log: /no/such/dir/access.log
            """)
        let result = try run(["--check", "--config", bad])
        #expect(result.status == 1)
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 6, "\(result.output)")
        for key in [
            "listen[0].address", "limits.max_header_size", "timeouts.keepalive", "routes[0].dir", "colour",
            "access_log",
        ] {
            #expect(lines.contains { $0.contains("bad.yaml: \(key): ") }, "no line for \(key)")
        }
    }

    @Test func accessLogIsCombinedFormatWithRequestTime() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(directory: directory, config: "routes: [{prefix: /, dir: site}]")
        _ = try get(edge.port, "/a.txt?x=1", "Referer: http://example.test/", "User-Agent: tester/1.0")
        _ = try get(edge.port, "/nothing")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.count == 2)
        let pattern =
            #/^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /a\.txt\?x=1 HTTP/1\.1" 200 5 "http://example\.test/" "tester/1\.0" \d+\.\d{3}$/#
        #expect(lines.contains { $0.wholeMatch(of: pattern) != nil }, "\(lines)")
        #expect(lines.contains { $0.contains("\"GET /nothing HTTP/1.1\" 404 ") })
    }

    @Test func hupReloadsTheConfigForNewConnectionsAndRefusesABadOne() throws {
        let directory = TestDirectory()
        directory.write("one/page.txt", "version one")
        directory.write("two/page.txt", "version two")
        let edge = try EdgeProcess(directory: directory, config: "routes: [{prefix: /, dir: one}]", accessLog: false)
        let kept = try edge.connect()
        try kept.send("GET /page.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try kept.readResponse().bodyText == "version one")

        let yaml = try String(contentsOfFile: edge.configPath, encoding: .utf8)
        directory.write("edge.yaml", yaml.replacingOccurrences(of: "dir: one", with: "dir: two"))
        edge.signal(SIGHUP)
        #expect(edge.waitForLog(containing: "HUP: configuration reloaded") != nil)
        #expect(try get(edge.port, "/page.txt").bodyText == "version two")
        // A connection opened before the reload finishes with the configuration it started with.
        try kept.send("GET /page.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try kept.readResponse().bodyText == "version one")

        directory.write("edge.yaml", yaml.replacingOccurrences(of: "dir: one", with: "dir: missing"))
        edge.signal(SIGHUP)
        let refused = edge.waitForLog(containing: "HUP: configuration refused")
        #expect(refused?.contains("routes[0].dir") == true)
        #expect(try get(edge.port, "/page.txt").bodyText == "version two")
    }

    @Test func tellsSystemdWhenReadyAndWhenStopping() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        let systemd = try NotifyListener(directory: directory)
        let edge = try EdgeProcess(
            directory: directory,
            config: """
                upstreams: {app: {servers: ["unix:\(directory.path)/nobody.sock"]}}
                routes: [{prefix: /app/, upstream: app}, {prefix: /, dir: site}]
                """,
            environment: ["NOTIFY_SOCKET": systemd.path])
        #expect(systemd.messages.waitFor(containing: "READY=1", timeout: 10) != nil)
        // `systemctl status` shows the connections and the upstream servers, refreshed every few seconds.
        let status = systemd.messages.waitFor(containing: "STATUS=serving: ", timeout: 10)
        #expect(status?.contains("connections; all 1 upstream servers up") == true, "\(status ?? "")")
        #expect(try get(edge.port, "/a.txt").status == 200)
        #expect(try get(edge.port, "/app/x").status == 502)
        let down = systemd.messages.waitFor(containing: "upstream servers down: app unix:", timeout: 15)
        #expect(down?.contains("nobody.sock") == true)
        edge.signal(SIGTERM)
        #expect(systemd.messages.waitFor(containing: "STOPPING=1", timeout: 10) != nil)
        #expect(edge.waitForExit() == 0)
    }

    /// With `WATCHDOG_USEC` set, Edge pings every half interval (here 0.6 s: three pings well within 10 s).
    @Test func pingsSystemdsWatchdog() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        let systemd = try NotifyListener(directory: directory)
        let edge = try EdgeProcess(
            directory: directory, config: "routes: [{prefix: /, dir: site}]",
            environment: ["NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "600000"])
        #expect(systemd.messages.waitFor(count: 3, containing: "WATCHDOG=1", timeout: 10))
        #expect(try get(edge.port, "/a.txt").status == 200)
    }

    @Test func termFinishesInFlightResponsesClosesIdleAndExits0() throws {
        let directory = TestDirectory()
        let size = 8 * 1024 * 1024
        directory.write("site/big.bin", Data(repeating: 0x61, count: size))
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(
            directory: directory, config: "routes: [{prefix: /, dir: site}]\ntimeouts: {shutdown: 20s}")

        let idle = try edge.connect()
        try idle.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try idle.readResponse()

        let downloading = try edge.connect()
        try downloading.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try downloading.readSome(1) == 1)  // the response has started; most of it is still in flight

        edge.signal(SIGTERM)
        #expect(edge.waitForLog(containing: "TERM received") != nil)
        #expect(idle.waitForClose())

        var received = 1
        while received < size + 100 {
            let count = try downloading.readSome(1 << 20)
            if count == 0 { break }
            received += count
        }
        #expect(received > size)  // head plus the complete body arrived before the close
        #expect(edge.waitForExit() == 0)
        #expect(throws: (any Error).self) { try edge.connect() }
    }
}

/// `--log-format json`: every error-log line is one JSON object, from start to stop; an unknown format is refused.
@Suite struct JSONErrorLogTests {
    @Test func everyLineIsOneObject() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(
            directory: directory, config: "routes: [{prefix: /, dir: site}]", arguments: ["--log-format", "json"],
            readyLine: "\"msg\":\"ready\"")
        #expect(try get(edge.port, "/a.txt").bodyText == "alpha")
        _ = try edge.stopAndReadAccessLog()
        let lines = edge.errorLog.split(separator: "\n")
        #expect(lines.contains { $0.contains("\"msg\":\"stopped\"") }, "\(edge.errorLog)")
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
            #expect(object?["ts"] != nil && object?["level"] != nil && object?["logger"] == "edge", "not JSON: \(line)")
        }
    }

    @Test func anUnknownFormatIsRefused() throws {
        let result = try runToCompletion(EdgeProcess.binary, ["--log-format", "xml", "--config", "/dev/null"])
        #expect(result.status != 0 && result.output.contains("--log-format"), "\(result.output)")
    }
}
