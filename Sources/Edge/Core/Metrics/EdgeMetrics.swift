import CoreMetrics
import NIOCore
import NIOHTTP1
import Shared
import NIOConcurrencyHelpers
import Synchronization

/// Every metric Edge exposes on its admin listener (docs/observability.md lists them with their labels).
///
/// Handles are made once and kept: a labelled metric is looked up in the registry under a lock, which the request
/// path should not pay. Series whose labels come from traffic (status class, method) are kept in small tables
/// here, made the first time each combination is seen.
public final class EdgeMetrics: Sendable {
    public let registry: MetricsRegistry
    public let process: ProcessMetrics

    private let requests = NIOLockedValueBox<[RequestKey: (count: Counter, duration: Timer)]>([:])
    /// Open connections by protocol and state, counted here and copied into `edge_connections` at each scrape.
    private let connectionCounts: [ConnectionKind: [ConnectionActivity: OpenCount]]
    private let connectionGauges: [ConnectionKind: [ConnectionActivity: Gauge]]
    private let refusals = NIOLockedValueBox<[String: Counter]>([:])
    private let upstreamSeries = NIOLockedValueBox<[UpstreamKey: Counter]>([:])
    private let upstreamTimers = NIOLockedValueBox<[String: (connect: Timer, response: Timer)]>([:])
    private let handshakeFailures = NIOLockedValueBox<[String: Counter]>([:])
    private let downUntil = NIOLockedValueBox<[String: NIODeadline]>([:])
    private let reloadResults: [Bool: Counter]
    let handshakes: Counter
    let bytesIn: Counter
    let bytesOut: Counter
    let gzipResponses: Counter
    let precompressedResponses: Counter
    let fileCacheHits: Counter
    let fileCacheMisses: Counter
    /// Requests counted since start: the status page's rate.
    private let requestTotal = Atomic<UInt64>(0)

    public init() {
        registry = MetricsRegistry(descriptions: Self.descriptions)
        process = ProcessMetrics(prefix: "edge", factory: registry)
        var counts: [ConnectionKind: [ConnectionActivity: OpenCount]] = [:]
        var gauges: [ConnectionKind: [ConnectionActivity: Gauge]] = [:]
        for kind in ConnectionKind.allCases {
            for activity in ConnectionActivity.allCases {
                counts[kind, default: [:]][activity] = OpenCount()
                gauges[kind, default: [:]][activity] = Gauge(
                    label: "edge_connections",
                    dimensions: [("protocol", kind.rawValue), ("state", activity.rawValue)], factory: registry)
            }
        }
        connectionCounts = counts
        connectionGauges = gauges
        reloadResults = [
            true: Counter(label: "edge_config_reloads_total", dimensions: [("result", "applied")], factory: registry),
            false: Counter(label: "edge_config_reloads_total", dimensions: [("result", "refused")], factory: registry),
        ]
        handshakes = Counter(label: "edge_tls_handshakes_total", factory: registry)
        bytesIn = Counter(label: "edge_received_bytes_total", factory: registry)
        bytesOut = Counter(label: "edge_sent_body_bytes_total", factory: registry)
        gzipResponses = Counter(
            label: "edge_compressed_responses_total", dimensions: [("kind", "gzip")], factory: registry)
        precompressedResponses = Counter(
            label: "edge_compressed_responses_total", dimensions: [("kind", "precompressed")], factory: registry)
        fileCacheHits = Counter(
            label: "edge_open_file_cache_lookups_total", dimensions: [("result", "hit")], factory: registry)
        fileCacheMisses = Counter(
            label: "edge_open_file_cache_lookups_total", dimensions: [("result", "miss")], factory: registry)
    }

    /// Every metric above with its help text (`MetricsRegistry` needs them; docs/observability.md lists them).
    static let descriptions: [String: MetricsRegistry.Description] = ProcessMetrics.descriptions(prefix: "edge")
        .merging(
            [
                "edge_requests_total": .init(
                    "Responses by listener, route (its prefix), method and status class (1xx-5xx)."),
                "edge_request_duration_seconds": .init(
                    "Time from a request's head to its response's head (to the end for proxied requests), by listener and route."),
                "edge_connections": .init(
                    "Open client connections by protocol (h1, h1-tls, h2, tls-handshake) and state (active, idle)."),
                "edge_refused_total": .init(
                    "Requests and connections refused by a limit: 408, 413, 414, 429, 431, max_connections, max_connections_per_ip."),
                "edge_tls_handshakes_total": .init("TLS handshakes completed."),
                "edge_tls_handshake_failures_total": .init(
                    "TLS handshakes that failed, by reason (plain_http, not_tls, protocol_version, no_shared_cipher, no_alpn, timeout, closed, error)."),
                "edge_received_bytes_total": .init(
                    "Request bytes read: as received on HTTP/1.1 connections, as Edge translated them on HTTP/2 streams."),
                "edge_sent_body_bytes_total": .init("Response body bytes sent."),
                "edge_compressed_responses_total": .init(
                    "Responses gzipped on the fly (gzip) or sent from a file.gz beside the file (precompressed)."),
                "edge_open_file_cache_lookups_total": .init("Open-file cache lookups by result (hit, miss)."),
                "edge_upstream_connect_duration_seconds": .init("Time to connect to an upstream server."),
                "edge_upstream_response_duration_seconds": .init(
                    "Time from sending a request upstream to the response's head."),
                "edge_upstream_failures_total": .init(
                    "Upstream failures by server and kind (refused, timeout, reset, malformed, no_server)."),
                "edge_upstream_retries_total": .init("Requests sent again, to another server, after a failure."),
                "edge_upstream_skips_total": .init(
                    "Times a server was passed over because a failed connect marked it down."),
                "edge_config_reloads_total": .init("Configuration reloads (HUP) by result (applied, refused)."),
            ], uniquingKeysWith: { first, _ in first })

    // MARK: Requests

    /// A response began: counted by listener, route, method and status class, and its time so far recorded.
    func recordResponse(listener: String, route: String, method: HTTPMethod, status: Int, nanoseconds: Int64) {
        let key = RequestKey(
            listener: listener, route: route, method: Self.methodLabel(method), statusClass: min(max(status / 100, 1), 5))
        let series = requests.withLockedValue { table in
            if let series = table[key] { return series }
            let labels = [("listener", key.listener), ("route", key.route)]
            let made = (
                count: Counter(
                    label: "edge_requests_total",
                    dimensions: labels + [("method", key.method), ("status", "\(key.statusClass)xx")],
                    factory: registry),
                duration: Timer(label: "edge_request_duration_seconds", dimensions: labels, factory: registry)
            )
            table[key] = made
            return made
        }
        series.count.increment()
        series.duration.recordNanoseconds(nanoseconds)
        requestTotal.add(1, ordering: .relaxed)
        switch status {
        case 408, 413, 414, 429, 431: refused(reason: String(status))
        default: break
        }
    }

    /// Requests answered since start, for the status page.
    var requestsAnswered: UInt64 { requestTotal.load(ordering: .relaxed) }

    /// A request or connection refused by a limit: `413`, `414`, `431`, `408`, `429` or `max_connections`.
    func refused(reason: String) {
        counter(in: refusals, key: reason) {
            Counter(label: "edge_refused_total", dimensions: [("reason", reason)], factory: registry)
        }.increment()
    }

    // MARK: Connections

    /// The count of open connections of `kind` in `activity`.
    func connections(_ kind: ConnectionKind, _ activity: ConnectionActivity) -> OpenCount {
        connectionCounts[kind]![activity]!
    }

    /// Open connections by protocol and state, in `ConnectionKind` order.
    var openConnections: [(kind: ConnectionKind, activity: ConnectionActivity, count: Int)] {
        ConnectionKind.allCases.flatMap { kind in
            ConnectionActivity.allCases.map { (kind, $0, connections(kind, $0).value) }
        }
    }

    /// The metrics as Prometheus text, with the sampled figures (connections, the process) read now.
    public func exposition() -> [UInt8] {
        for (kind, activity, count) in openConnections {
            connectionGauges[kind]![activity]!.record(count)
        }
        process.update()
        return registry.exposition()
    }

    // MARK: TLS

    func handshakeFailed(reason: String) {
        counter(in: handshakeFailures, key: reason) {
            Counter(label: "edge_tls_handshake_failures_total", dimensions: [("reason", reason)], factory: registry)
        }.increment()
    }

    // MARK: Upstreams

    /// An upstream failure of `kind` (refused, timeout, reset, malformed), a retry, or a server skipped as down.
    func upstreamEvent(_ event: UpstreamEvent, server: String) {
        let key = UpstreamKey(event: event, server: server)
        counter(in: upstreamSeries, key: key) {
            switch event {
            case .failure(let kind):
                Counter(
                    label: "edge_upstream_failures_total", dimensions: [("server", server), ("kind", kind)],
                    factory: registry)
            case .retry:
                Counter(label: "edge_upstream_retries_total", dimensions: [("server", server)], factory: registry)
            case .skippedAsDown:
                Counter(label: "edge_upstream_skips_total", dimensions: [("server", server)], factory: registry)
            }
        }.increment()
    }

    /// `server` failed to connect and is skipped for `duration` (by the loop that saw it; the others learn on their
    /// own first failure).
    func upstreamDown(_ server: String, for duration: TimeAmount) {
        let until = NIODeadline.now() + duration
        downUntil.withLockedValue { $0[server] = until }
    }

    /// The servers some event loop skips now, having failed to connect to them.
    var serversDown: Set<String> {
        let now = NIODeadline.now()
        return downUntil.withLockedValue { Set($0.filter { $0.value > now }.keys) }
    }

    /// The time to connect to `server`, and the time from sending a request to its response head.
    func upstreamTimers(server: String) -> (connect: Timer, response: Timer) {
        upstreamTimers.withLockedValue { table in
            if let timers = table[server] { return timers }
            let made = (
                connect: Timer(
                    label: "edge_upstream_connect_duration_seconds", dimensions: [("server", server)],
                    factory: registry),
                response: Timer(
                    label: "edge_upstream_response_duration_seconds", dimensions: [("server", server)],
                    factory: registry)
            )
            table[server] = made
            return made
        }
    }

    // MARK: Reloads

    func reloaded(applied: Bool) {
        reloadResults[applied]!.increment()
    }

    // MARK: -

    private func counter<Key: Hashable>(in table: NIOLockedValueBox<[Key: Counter]>, key: Key, make: () -> Counter) -> Counter {
        table.withLockedValue { table in
            if let counter = table[key] { return counter }
            let made = make()
            table[key] = made
            return made
        }
    }

    /// Methods by name for the common ones, `other` for the rest: the label's values stay a small, closed set.
    private static func methodLabel(_ method: HTTPMethod) -> String {
        switch method {
        case .GET, .HEAD, .POST, .PUT, .DELETE, .PATCH, .OPTIONS: method.rawValue
        default: "other"
        }
    }

    /// A count that goes up and down from several event loops.
    final class OpenCount: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func increment() { count.add(1, ordering: .relaxed) }
        func decrement() { count.subtract(1, ordering: .relaxed) }
    }

    private struct RequestKey: Hashable {
        var listener: String
        var route: String
        var method: String
        var statusClass: Int
    }

    private struct UpstreamKey: Hashable {
        var event: UpstreamEvent
        var server: String
    }

    /// What happened with an upstream server: a failure of a kind (`refused`, `timeout`, `reset`, `malformed`,
    /// `no_server`), a retry on it, or a request that passed it over because it is marked down.
    enum UpstreamEvent: Hashable {
        case failure(String)
        case retry
        case skippedAsDown
    }
}
