import Foundation
import NIOConcurrencyHelpers
import Shared

/// Edge's admin listener: its metrics, and a status page like nginx's stub_status with the upstreams added.
final class EdgeAdminPages: AdminPages {
    private let edgeMetrics: EdgeMetrics
    private let upstreams: @Sendable () -> [String: [String]]
    private let rate = NIOLockedValueBox(RequestRate())
    private let started = Date()

    /// `upstreams` gives the running configuration's upstream servers by upstream name.
    init(metrics: EdgeMetrics, upstreams: @escaping @Sendable () -> [String: [String]]) {
        self.edgeMetrics = metrics
        self.upstreams = upstreams
    }

    var title: String { "Edge \(BuildInfo.version) on \(ProcessInfo.processInfo.hostName)" }

    func metrics() async -> [UInt8] { await edgeMetrics.exposition() }

    func tick(now: Double) async {
        await edgeMetrics.collect()
        let total = edgeMetrics.requestsAnswered
        rate.withLockedValue { $0.sample(total: total, at: now) }
    }

    func status() async -> StatusValue {
        await edgeMetrics.collect()
        let open = edgeMetrics.openConnections
        let down = edgeMetrics.serversDown
        let byKind: [(String, StatusValue)] = ConnectionKind.allCases.map { kind in
            let counts = open.filter { $0.kind == kind }
            return (
                kind.rawValue,
                .object(counts.map { ($0.activity.rawValue, .integer($0.count)) })
            )
        }
        let upstreamList: [StatusValue] = upstreams().sorted { $0.key < $1.key }.flatMap { name, servers in
            servers.map { server -> StatusValue in
                .object([
                    ("upstream", .text(name)), ("server", .text(server)),
                    ("state", .text(down.contains(server) ? "down (skipped after a failed connect)" : "up")),
                ])
            }
        }
        return .object([
            (
                "server",
                .object([
                    ("version", .text(BuildInfo.version)), ("pid", .integer(getpid())),
                    ("uptime_seconds", .number(Date().timeIntervalSince(started).rounded())),
                ])
            ),
            (
                "connections",
                .object(
                    [("open", .integer(open.reduce(0) { $0 + $1.count }))]
                        + [
                            ("active", .integer(open.filter { $0.activity == .active }.reduce(0) { $0 + $1.count })),
                            ("idle", .integer(open.filter { $0.activity == .idle }.reduce(0) { $0 + $1.count })),
                        ] + [("by_protocol", .object(byKind))])
            ),
            (
                "requests",
                .object([
                    ("total", .integer(edgeMetrics.requestsAnswered)),
                    ("per_second_last_minute", .number(rate.withLockedValue { $0.perSecond })),
                ])
            ),
            ("upstreams", .array(upstreamList)),
        ])
    }
}
