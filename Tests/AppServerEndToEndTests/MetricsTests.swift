import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The master's admin listener: one scrape counts every worker's requests and the master's decisions exactly,
/// passes `promtool`, and `/status` lists the workers that exist.
@Suite struct MasterMetricsTests {
    /// AppServer with two workers, the test routes and the admin listener on a free port.
    private func start(_ extra: String = "") throws -> (server: AppServerProcess, admin: String) {
        let server = try AppServerProcess(
            config: "admin: {listen: 127.0.0.1:0}\napp: {test_routes: true}\n\(extra)")
        let line = try #require(server.log.waitFor(containing: "admin listener on", timeout: 10), "\(server.log.text)")
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) })
        return (server, "http://127.0.0.1:\(port)")
    }

    /// The workers the status page lists, by pid, with their state.
    private func statusWorkers(_ admin: String) throws -> [(pid: Int, state: String, served: Int)] {
        let text = try runToCompletion("/usr/bin/curl", ["-sf", admin + "/status?format=json"]).output
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let workers = try #require(json["workers"] as? [[String: Any]], "\(text)")
        return workers.compactMap { worker in
            guard let pid = worker["pid"] as? Int, let state = worker["state"] as? String,
                let served = worker["requests_served"] as? Int
            else { return nil }
            return (pid, state, served)
        }
    }

    @Test func oneScrapeCountsEveryWorkersRequestsExactly() throws {
        let (server, admin) = try start()
        for _ in 0..<9 { #expect(try server.request("GET", "/plaintext").status == 200) }
        for _ in 0..<3 { #expect(try server.request("GET", "/no-such-page").status == 404) }
        #expect(try server.request("GET", "/__test/throw").status == 500)
        #expect(try server.request("GET", "/__test/sleep?ms=300").status == 200)

        let scrape = try PrometheusScrape.fetch(admin + "/metrics")
        #expect(scrape.value("appserver_requests_total", ["status": "2xx"]) == 10, "\(scrape.text)")
        #expect(scrape.value("appserver_requests_total", ["status": "4xx"]) == 3)
        #expect(scrape.value("appserver_requests_total", ["status": "5xx"]) == 1)
        #expect(scrape.value("appserver_request_duration_seconds_count") == 14)
        // The 300 ms request is in the 500 ms bucket and above the 250 ms one, and in the sum.
        #expect(scrape.value("appserver_request_duration_seconds_bucket", ["le": "0.25"]) == 13)
        #expect(scrape.value("appserver_request_duration_seconds_bucket", ["le": "0.5"]) == 14)
        #expect(scrape.value("appserver_request_duration_seconds_sum") >= 0.3)
        #expect(scrape.value("appserver_workers", ["state": "ready"]) == 2)
        #expect(scrape.value("appserver_worker_spawns_total") == 2)
        #expect(scrape.value("appserver_generation") == 1)
        #expect(scrape.value("appserver_workers_resident_memory_bytes") > 1_000_000)
        #expect(try scrape.promtoolProblems() == nil)

        // The status page's workers are the master's children, each with the requests it served.
        let workers = try statusWorkers(admin)
        let children = Set(try server.workerPIDs(count: 2).compactMap { Int($0) })
        #expect(Set(workers.map(\.pid)) == children)
        #expect(workers.allSatisfy { $0.state == "ready" })
        // The pid requests above were served too; 14 before them.
        #expect(workers.reduce(0) { $0 + $1.served } >= 14)
    }

    /// Scraped while four clients keep both workers busy, and through a reload: the counts only grow, and once the
    /// load stops they equal what the clients were answered.
    @Test func scrapesDuringTrafficAndAReloadCountEveryResponse() throws {
        let (server, admin) = try start()
        let load = LoadGenerator(server: server)
        #expect(load.waitForSuccesses(200))
        var seen: [Double] = []
        for round in 0..<6 {
            if round == 3 { server.signal(SIGHUP) }
            seen.append(try PrometheusScrape.fetch(admin + "/metrics").value("appserver_requests_total"))
            #expect(load.waitForSuccesses(200 * (round + 2)))
        }
        #expect(server.log.waitFor(containing: "generation 2 ready", timeout: 20) != nil)
        let (succeeded, failures) = load.stop()
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(seen == seen.sorted() && seen.first! > 0, "\(seen)")
        // Once the old generation has exited its boards have been read for the last time.
        var scrape = try PrometheusScrape.fetch(admin + "/metrics")
        #expect(
            eventually(within: 20) {
                scrape = (try? PrometheusScrape.fetch(admin + "/metrics")) ?? scrape
                return scrape.value("appserver_worker_exits_total", ["cause": "reload"]) == 2
            })
        #expect(scrape.value("appserver_requests_total", ["status": "2xx"]) == Double(succeeded))
        #expect(scrape.value("appserver_request_duration_seconds_count") == Double(succeeded))
        #expect(scrape.value("appserver_requests_in_flight") == 0)
    }

    @Test func aRequestInFlightShowsOnTheStatusPageAndInTheGauge() throws {
        let (server, admin) = try start()
        let slow = try server.connect()
        try slow.send("GET /__test/sleep?ms=3000 HTTP/1.1\r\nHost: app\r\nX-Request-ID: req-77\r\n\r\n")
        var current: String?
        #expect(
            eventually(within: 10) {
                let text = (try? runToCompletion("/usr/bin/curl", ["-sf", admin + "/status?format=json"]).output) ?? ""
                current = text.contains("req-77") ? text : nil
                return current != nil
            })
        #expect(current?.contains("GET /__test/sleep?ms=3000 (request id req-77)") == true, "\(current ?? "")")
        #expect(try PrometheusScrape.fetch(admin + "/metrics").value("appserver_requests_in_flight") == 1)
        #expect(try slow.readResponse().status == 200)
        #expect(try PrometheusScrape.fetch(admin + "/metrics").value("appserver_requests_in_flight") == 0)
    }

    @Test func crashesAndReloadsAreCountedByCause() throws {
        let (server, admin) = try start()
        for _ in 0..<4 { #expect(try server.request("GET", "/plaintext").status == 200) }
        let crashed = try server.connect()
        try crashed.send("GET /__test/crash HTTP/1.1\r\nHost: app\r\n\r\n")
        #expect(server.log.waitFor(containing: "died", timeout: 10) != nil)
        #expect(
            eventually(within: 10) {
                let scrape = try? PrometheusScrape.fetch(admin + "/metrics")
                return scrape?.value("appserver_workers", ["state": "ready"]) == 2
            })
        server.signal(SIGHUP)
        #expect(server.log.waitFor(containing: "generation 2 ready", timeout: 20) != nil)
        var scrape = try PrometheusScrape.fetch(admin + "/metrics")
        #expect(
            eventually(within: 10) {
                scrape = (try? PrometheusScrape.fetch(admin + "/metrics")) ?? scrape
                return scrape.value("appserver_worker_exits_total", ["cause": "reload"]) == 2
            }, "\(scrape.text)")
        #expect(scrape.value("appserver_worker_exits_total", ["cause": "crash"]) == 1)
        #expect(scrape.value("appserver_worker_spawns_total") == 5)
        #expect(scrape.value("appserver_reloads_total", ["result": "applied"]) == 1)
        #expect(scrape.value("appserver_generation") == 2)
        // Requests served by workers that are gone still count.
        #expect(scrape.value("appserver_requests_total", ["status": "2xx"]) == 4)
        let workers = try statusWorkers(admin)
        #expect(workers.count == 2 && workers.allSatisfy { $0.state == "ready" }, "\(workers)")
    }

    @Test func theAdminListenerIsRefusedOnTheAppSocket() throws {
        let directory = TestDirectory()
        let socket = directory.path + "/app.sock"
        let config = directory.write(
            "appserver.yaml", "bind: unix:\(socket)\nadmin: {listen: unix:\(socket)}\n")
        let check = try runToCompletion(AppServerProcess.binary, ["--check", "--config", config])
        #expect(check.status != 0)
        #expect(check.output.contains("address of its own"), "\(check.output)")
    }
}
