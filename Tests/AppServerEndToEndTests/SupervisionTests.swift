import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Crashes, silent workers, reloads and stops, against the real master and workers.
@Suite struct SupervisionTests {
    @Test func crashedWorkerIsReplacedAndOthersKeepServing() throws {
        let server = try AppServerProcess(config: "app: {test_routes: true}")
        let crashing = try server.connect()
        try crashing.send("GET /__test/crash HTTP/1.1\r\nHost: app\r\n\r\n")
        #expect(crashing.waitForClose())  // only the request that trapped is lost
        #expect(
            server.log.waitFor(containing: "died: signal 4 (SIGILL: a Swift trap); replacing it", timeout: 20) != nil)
        #expect(server.log.waitFor(count: 3, containing: "worker ready", timeout: 20))
        #expect(try server.request("GET", "/plaintext").status == 200)
    }

    @Test func fiveReloadsUnderLoadLoseNothing() throws {
        let server = try AppServerProcess(config: "workers: 2\ngraceful_timeout: 10s")
        let load = LoadGenerator(server: server, clients: 4)
        for generation in 2...6 {
            server.signal(SIGHUP)
            #expect(
                server.log.waitFor(
                    containing: "generation \(generation) ready; stopping generation \(generation - 1)", timeout: 30)
                    != nil)
        }
        #expect(server.log.waitFor(count: 10, containing: "exited (exit code 0)", timeout: 30))
        let (succeeded, failures) = load.stop()
        #expect(failures.isEmpty, "\(failures.count) failed: \(failures.prefix(5))")
        #expect(succeeded > 100)
    }

    @Test func silentWorkerIsAbortedNamingItsRequestAndReplaced() throws {
        let server = try AppServerProcess(config: "workers: 1\ntimeout: 2s\napp: {test_routes: true}")
        let blocked = try server.connect()
        try blocked.send("GET /__test/block?ms=20000 HTTP/1.1\r\nHost: app\r\nX-Request-ID: req-42\r\n\r\n")
        let line = server.log.waitFor(containing: "aborting it", timeout: 20)
        #expect(
            line?.contains("while serving GET /__test/block?ms=20000 (request id req-42)") == true,
            "\(line ?? server.log.text)")
        #expect(blocked.waitForClose())
        #expect(server.log.waitFor(count: 2, containing: "worker ready", timeout: 20))
        #expect(try server.request("GET", "/plaintext").status == 200)
    }

    @Test func termLetsTheSlowRequestFinishThenExits0() throws {
        let directory = TestDirectory()
        let pidFile = directory.path + "/appserver.pid"
        let server = try AppServerProcess(
            directory: directory, config: "workers: 1\nlog_level: debug\napp: {test_routes: true}",
            arguments: ["--pid", pidFile])
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == "\(server.pid)\n")
        let slow = try server.connect()
        try slow.send("GET /__test/sleep?ms=1500 HTTP/1.1\r\nHost: app\r\n\r\n")
        // TERM only once the request is with the app: the test is about finishing in-flight requests.
        #expect(server.log.waitFor(containing: #"path="/__test/sleep"#, timeout: 10) != nil)
        server.signal(SIGTERM)
        let response = try slow.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyText == "slept 1500ms\n")
        #expect(response.header("Connection") == "close")
        #expect(server.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: server.socketPath))
        #expect(!FileManager.default.fileExists(atPath: pidFile))
    }

    @Test func quitStopsAtOnce() throws {
        let server = try AppServerProcess(config: "workers: 2\nlog_level: debug\napp: {test_routes: true}")
        let slow = try server.connect()
        try slow.send("GET /__test/sleep?ms=20000 HTTP/1.1\r\nHost: app\r\n\r\n")
        #expect(server.log.waitFor(containing: #"path="/__test/sleep"#, timeout: 10) != nil)
        server.signal(SIGQUIT)
        #expect(slow.waitForClose())  // not served: a fast stop does not wait
        #expect(server.waitForExit(timeout: 10) == 0)
    }

    @Test func badConfigOrAppOnReloadKeepsTheOldWorkers() throws {
        let server = try AppServerProcess(config: "workers: 1\napp: {test_routes: true}")
        let before = try server.request("GET", "/__test/pid").bodyText

        server.directory.write("appserver.yaml", AppServerProcess.yaml(socketPath: server.socketPath, "workers: 0"))
        server.signal(SIGHUP)
        #expect(
            server.log.waitFor(containing: "new configuration refused", timeout: 20)?.contains(
                "workers: must be at least 1") == true)
        #expect(try server.request("GET", "/__test/pid").bodyText == before)

        // Valid config, but the app cannot load (its media directory cannot be created).
        server.directory.write(
            "appserver.yaml",
            AppServerProcess.yaml(
                socketPath: server.socketPath, "workers: 1\napp: {test_routes: true, media_dir: /proc/no-such-dir}"))
        server.signal(SIGHUP)
        #expect(server.log.waitFor(containing: "reload failed, generation 1 keeps serving", timeout: 20) != nil)
        #expect(try server.request("GET", "/__test/pid").bodyText == before)
        #expect(server.process.isRunning)
    }

    @Test func reloadRunsTheBinaryOnDiskAndABrokenOneChangesNothing() throws {
        let directory = TestDirectory()
        let binary = directory.path + "/appserver"
        try FileManager.default.copyItem(atPath: AppServerProcess.binary, toPath: binary)
        let server = try AppServerProcess(
            directory: directory, config: "workers: 1\napp: {test_routes: true}", executable: binary)

        // Deploy: a new file renamed over the old one, then HUP. The new worker runs the new file.
        try FileManager.default.copyItem(atPath: AppServerProcess.binary, toPath: binary + ".new")
        #expect(rename(binary + ".new", binary) == 0)
        server.signal(SIGHUP)
        #expect(server.log.waitFor(containing: "generation 2 ready", timeout: 20) != nil)
        // Until the old worker has left, a new connection may still reach it.
        #expect(server.log.waitFor(containing: "worker exiting generation=1", timeout: 20) != nil)
        let worker = try server.request("GET", "/__test/pid").bodyText
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(worker)/exe") == binary)
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(server.pid)/exe") == binary
                + " (deleted)")

        // A broken deploy: the new binary cannot even boot. Generation 2 keeps serving.
        try "#!/bin/sh\nexit 3\n".write(toFile: binary + ".new", atomically: false, encoding: .utf8)
        chmod(binary + ".new", 0o755)
        #expect(rename(binary + ".new", binary) == 0)
        server.signal(SIGHUP)
        #expect(server.log.waitFor(containing: "reload failed, generation 2 keeps serving", timeout: 20) != nil)
        #expect(try server.request("GET", "/__test/pid").bodyText == worker)
    }

    @Test func appThatCannotLoadStopsTheMasterWithItsCode() throws {
        let server = try AppServerProcess(config: "app: {media_dir: /proc/no-such-dir}", waitUntilReady: false)
        #expect(server.waitForExit() == 4)
        #expect(server.log.text.contains("app failed to load"))
        #expect(server.log.text.contains("stopping AppServer"))
    }

    /// A setting of the wrong type is an app load failure whose line names the key.
    @Test func aSettingOfTheWrongTypeNamesItsKey() throws {
        let server = try AppServerProcess(config: "app: {media_dir: [a, b]}", waitUntilReady: false)
        #expect(server.waitForExit() == 4)
        #expect(server.log.text.contains("app.media_dir: expected a string, found a list"), "\(server.log.text)")
    }

    /// With `WATCHDOG_USEC` set, the master pings from its own loop every half interval (here 2 s: each tick).
    @Test func theMasterPingsSystemdsWatchdog() throws {
        let directory = TestDirectory()
        let systemd = try NotifyListener(directory: directory)
        let server = try AppServerProcess(
            directory: directory, config: "workers: 1",
            environment: ["NOTIFY_SOCKET": systemd.path, "WATCHDOG_USEC": "2000000"])
        #expect(systemd.messages.waitFor(count: 2, containing: "WATCHDOG=1", timeout: 10))
        withExtendedLifetime(server) {}
    }

    @Test func ttinAddsAWorkerAndTtouRemovesOne() throws {
        let server = try AppServerProcess(config: "workers: 2\napp: {test_routes: true}")
        server.signal(SIGTTIN)
        #expect(server.log.waitFor(count: 3, containing: "worker ready", timeout: 20))
        #expect(try server.workerPIDs(count: 3).count == 3)
        server.signal(SIGTTOU)
        #expect(server.log.waitFor(containing: "exited (exit code 0)", timeout: 20) != nil)
        #expect(server.log.text.contains("TTOU: workers now 2"))
    }

    @Test func maxRequestsRecyclesAWorkerAfterItsReplacementIsReady() throws {
        let server = try AppServerProcess(config: "workers: 1\nmax_requests: 5\napp: {test_routes: true}")
        let first = try server.request("GET", "/__test/pid").bodyText
        for _ in 0..<6 { _ = try server.request("GET", "/plaintext") }
        #expect(server.log.waitFor(containing: "reached max_requests; starting its replacement", timeout: 20) != nil)
        #expect(server.log.waitFor(containing: "exited (exit code 0)", timeout: 20) != nil)
        #expect(try server.request("GET", "/__test/pid").bodyText != first)
    }

    @Test func killedWorkerUnderLoadCostsAtMostItsOwnRequests() throws {
        let server = try AppServerProcess(config: "workers: 2\napp: {test_routes: true}")
        let victim = Int32(try server.request("GET", "/__test/pid").bodyText)!
        let load = LoadGenerator(server: server, clients: 4)
        #expect(load.waitForSuccesses(50))
        kill(victim, SIGKILL)
        #expect(
            server.log.waitFor(containing: "worker \(victim) (generation 1) died: signal 9 (SIGKILL)", timeout: 20)
                != nil)
        #expect(server.log.waitFor(count: 3, containing: "worker ready", timeout: 20))
        let (succeeded, failures) = load.stop()
        #expect(failures.count <= 4, "\(failures)")  // at most one in-flight request per client connection
        #expect(succeeded > 10)
    }

    @Test func workersExitWhenTheMasterIsKilled() throws {
        let server = try AppServerProcess(config: "workers: 1\napp: {test_routes: true}")
        let worker = Int32(try server.request("GET", "/__test/pid").bodyText)!
        server.signal(SIGKILL)
        _ = server.waitForExit()
        #expect(eventually(within: 10) { kill(worker, 0) != 0 }, "worker \(worker) outlived its master")
    }
}

@Suite struct SystemdNotificationTests {
    @Test func readyOnlyWhenAllWorkersAreReadyAndAroundReloadsAndStop() throws {
        let directory = TestDirectory()
        let systemd = try NotifyListener(directory: directory)
        let server = try AppServerProcess(
            directory: directory, config: "workers: 3", environment: ["NOTIFY_SOCKET": systemd.path])
        #expect(systemd.messages.waitFor(containing: "READY=1", timeout: 10) != nil)
        // The master says READY=1 in the same step as it logs that all three workers are serving.
        #expect(server.log.waitFor(containing: "ready: 3 workers serving", timeout: 10) != nil)
        #expect(
            systemd.messages.waitFor(containing: "STATUS=serving generation 1: 3 of 3 workers ready", timeout: 10)
                != nil)
        server.signal(SIGHUP)
        let reloading = systemd.messages.waitFor(containing: "RELOADING=1", timeout: 10)
        #expect(reloading != nil)
        #expect(systemd.messages.waitFor(containing: "MONOTONIC_USEC=", timeout: 10) != nil)
        #expect(systemd.messages.waitFor(count: 2, containing: "READY=1", timeout: 20))
        #expect(systemd.messages.waitFor(containing: "STATUS=reloading to generation 2", timeout: 10) != nil)
        #expect(
            systemd.messages.waitFor(containing: "STATUS=serving generation 2: 3 of 3 workers ready", timeout: 20)
                != nil)
        server.signal(SIGTERM)
        #expect(systemd.messages.waitFor(containing: "STOPPING=1", timeout: 10) != nil)
        #expect(server.waitForExit() == 0)
        // Workers never talk to systemd: only the master's messages arrived.
        #expect(systemd.messages.count(containing: "READY=1") == 2)
    }
}

@Suite struct AccessLogTests {
    @Test func workersLogRequestsAndReopenTheFileOnUSR1() throws {
        let directory = TestDirectory()
        let log = directory.path + "/access.log"
        let server = try AppServerProcess(directory: directory, config: "workers: 1\naccess_log: \(log)")
        _ = try server.request("GET", "/plaintext", headers: ["User-Agent: first/1"])
        #expect(rename(log, log + ".1") == 0)  // what logrotate does
        server.signal(SIGUSR1)
        #expect(server.log.waitFor(containing: "USR1: reopened the access log", timeout: 20) != nil)
        _ = try server.request("GET", "/json", headers: ["User-Agent: second/2"])
        server.signal(SIGTERM)
        #expect(server.waitForExit() == 0)
        let rotated = try String(contentsOfFile: log + ".1", encoding: .utf8)
        let current = try String(contentsOfFile: log, encoding: .utf8)
        #expect(rotated.contains("\"GET /plaintext HTTP/1.1\" 200 13 \"-\" \"first/1\""))
        #expect(current.contains("\"GET /json HTTP/1.1\" 200 27 \"-\" \"second/2\""))
        #expect(!current.contains("first/1"))
    }

    /// An app that fails: the client gets 500, and the error line names the request's id, as the access log does.
    @Test func aFailedRequestsErrorLineNamesItsID() throws {
        let server = try AppServerProcess(config: "workers: 1\napp: {test_routes: true}")
        let response = try server.request("GET", "/__test/throw", headers: ["X-Request-ID: 0af7651916cd43dd"])
        #expect(response.status == 500)
        let line = server.log.waitFor(containing: "request failed", timeout: 10)
        #expect(line?.contains("request_id=0af7651916cd43dd") == true, "\(line ?? server.log.text)")
        #expect(line?.contains("the test route failed on purpose") == true, "\(line ?? "")")
    }

    /// The request id Edge sends joins the two access logs: in AppServer's combined line as Edge writes it, and in
    /// its JSON lines under Edge's field names.
    @Test func theRequestIDAndEdgesFormatsAreLogged() throws {
        for format in ["combined", "json"] {
            let directory = TestDirectory()
            let log = directory.path + "/access.log"
            let server = try AppServerProcess(
                directory: directory, config: "workers: 1\naccess_log: \(log)\naccess_log_format: \(format)")
            _ = try server.request("GET", "/plaintext", headers: ["X-Request-ID: 4bf92f3577b34da6", "User-Agent: t/1"])
            server.signal(SIGTERM)
            #expect(server.waitForExit() == 0)
            let line = try #require(
                try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").first.map(String.init))
            if format == "combined" {
                #expect(line.contains("\"GET /plaintext HTTP/1.1\" 200 13 \"-\" \"t/1\""), "\(line)")
                #expect(line.contains(" request_id=4bf92f3577b34da6"), "\(line)")
            } else {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                #expect(object["request_id"] as? String == "4bf92f3577b34da6", "\(line)")
                #expect(object["uri"] as? String == "/plaintext" && object["status"] as? Int == 200, "\(line)")
                #expect(Set(object.keys).isSuperset(of: ["time", "remote_addr", "method", "protocol", "request_time"]))
            }
        }
    }
}

@Suite struct MasterCommandLineTests {
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runToCompletion(AppServerProcess.binary, arguments)
    }

    /// Workers run under `SCHED_BATCH` by default, every thread of them, and under the kernel's default policy with
    /// `worker_scheduling: normal`; the master keeps the default either way.
    @Test(arguments: [("", 3), ("worker_scheduling: batch\n", 3), ("worker_scheduling: normal\n", 0)])
    func workersRunUnderTheConfiguredSchedulingPolicy(config: String, expectedPolicy: Int32) throws {
        let server = try AppServerProcess(config: config + "workers: 2\napp: {test_routes: true}")
        let workers = try server.workerPIDs(count: 2)
        #expect(workers.count == 2)
        for worker in workers {
            let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(worker)/task")
            #expect(!threads.isEmpty)
            for thread in threads {
                #expect(sched_getscheduler(pid_t(thread)!) == expectedPolicy, "worker \(worker), thread \(thread)")
            }
        }
        #expect(sched_getscheduler(server.pid) == 0, "the master's own policy")
    }

    @Test func helpVersionCheckAndBadFlags() throws {
        let help = try run(["--help"])
        #expect(help.status == 0)
        for flag in [
            "--bind", "--workers", "--timeout", "--graceful-timeout", "--max-requests", "--max-requests-jitter",
            "--pid", "--socket-mode", "--access-log", "--access-log-format", "--log-level", "--log-format", "--check",
        ] {
            #expect(help.output.contains(flag), "--help lacks \(flag)")
        }
        #expect(try run(["--version"]).status == 0)
        let directory = TestDirectory()
        let good = directory.write("ok.yaml", "workers: 3\ntimeout: 10s\n")
        #expect(try run(["--check", "--config", good]).status == 0)
        let bad = directory.write(
            "bad.yaml", "workers: lots\nbind: nowhere\nmax_requests: -1\ncolour: red\nworker_scheduling: fast\n")
        let result = try run(["--check", "--config", bad])
        #expect(result.status == 1)
        #expect(result.output.contains("unknown scheduling 'fast' (expected batch or normal)"), "\(result.output)")
        for key in ["workers", "bind", "max_requests", "colour", "worker_scheduling"] {
            #expect(result.output.contains("bad.yaml: \(key): "), "no line for \(key): \(result.output)")
        }
        // A user that does not exist loads (it may be created later) but is named in a warning.
        let unknownUser = directory.write("user.yaml", "forwarded_allow: [no-such-user-here, \"127.0.0.1/32\"]\n")
        let warned = try run(["--check", "--config", unknownUser])
        #expect(warned.status == 0)
        #expect(
            warned.output.contains("warning: forwarded_allow: no user named 'no-such-user-here'"), "\(warned.output)")
        let badFlag = try run(["--check", "--workers", "0"])
        #expect(badFlag.status != 0)
        #expect(badFlag.output.contains("--workers"))
    }

    @Test func staleSocketIsReplacedButALiveOneIsRefused() throws {
        let directory = TestDirectory()
        // A socket file left by a server that died: bound, never listened on, not removed.
        let path = directory.path + "/app.sock"
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(stale)
        let first = try AppServerProcess(directory: directory, config: "socket_mode: \"0600\"")
        #expect(try first.request("GET", "/plaintext").status == 200)
        var status = stat()
        stat(path, &status)
        #expect(status.st_mode & 0o777 == 0o600)

        let second = try run(["--config", first.configPath])
        #expect(second.status == 1)
        #expect(second.output.contains("another server is already listening on \(path)"))
    }
}
