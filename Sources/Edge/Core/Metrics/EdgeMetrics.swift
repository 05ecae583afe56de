import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore
import Shared

/// Every metric Edge exposes on its admin listener (docs/observability.md lists them with their labels).
///
/// The request path counts in its event loop's `LoopMetrics`, without locks or atomics; a scrape (and the status
/// page's tick) collects what each loop counted since it was last asked into the Prometheus metrics here. Rare
/// events (failures, refusals at accept, reloads) are counted here directly. Labels that come from the
/// configuration (listeners, routes, upstream servers) are numbered once, so the loops count by number.
public final class EdgeMetrics: Sendable {
    public let registry: MetricsRegistry
    public let process: ProcessMetrics

    private struct State {
        /// Each loop's counts, touched only on that loop.
        var loops: [NIOLoopBound<LoopMetrics>] = []
        var labels: [String] = []
        var labelIDs: [String: Int] = [:]
        var requestCounters: [Int: Counter] = [:]
        var requestHistograms: [Int: any RecorderHandler] = [:]
        var upstreamResponseHistograms: [Int: any RecorderHandler] = [:]
        var answered: UInt64 = 0
        var connections: [Int] = []
    }

    /// Loop-bound values are only touched on their loop; the lock guards the lists.
    private let state = NIOLockedValueBox(State())
    private let counted: [Counter]
    private let connectionGauges: [Gauge]
    private let refusals = NIOLockedValueBox<[String: Counter]>([:])
    private let upstreamSeries = NIOLockedValueBox<[UpstreamKey: Counter]>([:])
    private let upstreamConnectHistograms = NIOLockedValueBox<[String: any RecorderHandler]>([:])
    private let handshakeFailures = NIOLockedValueBox<[String: Counter]>([:])
    private let downUntil = NIOLockedValueBox<[String: NIODeadline]>([:])
    private let reloadResults: [Bool: Counter]

    public init() {
        let registry = MetricsRegistry(descriptions: Self.descriptions)
        self.registry = registry
        process = ProcessMetrics(prefix: "edge", factory: registry)
        connectionGauges = ConnectionKind.allCases.flatMap { kind in
            ConnectionActivity.allCases.map { activity in
                Gauge(
                    label: "edge_connections", dimensions: [("protocol", kind.rawValue), ("state", activity.rawValue)],
                    factory: registry)
            }
        }
        counted = LoopMetrics.Counted.allCases.map { what in
            switch what {
            case .bytesIn: Counter(label: "edge_received_bytes_total", factory: registry)
            case .bytesOut: Counter(label: "edge_sent_body_bytes_total", factory: registry)
            case .gzip:
                Counter(label: "edge_compressed_responses_total", dimensions: [("kind", "gzip")], factory: registry)
            case .precompressed:
                Counter(
                    label: "edge_compressed_responses_total", dimensions: [("kind", "precompressed")],
                    factory: registry)
            case .cacheHits:
                Counter(
                    label: "edge_open_file_cache_lookups_total", dimensions: [("result", "hit")], factory: registry)
            case .cacheMisses:
                Counter(
                    label: "edge_open_file_cache_lookups_total", dimensions: [("result", "miss")], factory: registry)
            case .handshakes: Counter(label: "edge_tls_handshakes_total", factory: registry)
            case .refused408, .refused413, .refused414, .refused429, .refused431:
                Counter(
                    label: "edge_refused_total",
                    dimensions: [
                        (
                            "reason",
                            String(LoopMetrics.refusalStatuses[what.rawValue - LoopMetrics.Counted.refused408.rawValue])
                        )
                    ], factory: registry)
            }
        }
        reloadResults = [
            true: Counter(label: "edge_config_reloads_total", dimensions: [("result", "applied")], factory: registry),
            false: Counter(label: "edge_config_reloads_total", dimensions: [("result", "refused")], factory: registry),
        ]
    }

    /// Every metric above with its help text (`MetricsRegistry` needs them; docs/observability.md lists them).
    static let descriptions: [String: MetricsRegistry.Description] = ProcessMetrics.descriptions(prefix: "edge")
        .merging(
            [
                "edge_requests_total": .init(
                    "Responses by listener, route (its prefix), method and status class (1xx-5xx)."),
                "edge_request_duration_seconds": .init(
                    "Time from a request's head to its response's head (to the end for proxied requests), by listener and route."
                ),
                "edge_connections": .init(
                    "Open client connections by protocol (h1, h1-tls, h2, tls-handshake) and state (active, idle)."),
                "edge_refused_total": .init(
                    "Requests and connections refused by a limit: 408, 413, 414, 429, 431, max_connections, max_connections_per_ip."
                ),
                "edge_tls_handshakes_total": .init("TLS handshakes completed."),
                "edge_tls_handshake_failures_total": .init(
                    "TLS handshakes that failed, by reason (plain_http, not_tls, protocol_version, no_shared_cipher, no_alpn, timeout, closed, error)."
                ),
                "edge_received_bytes_total": .init(
                    "Request bytes read: as received on HTTP/1.1 connections, as Edge translated them on HTTP/2 streams."
                ),
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

    // MARK: Set-up: loops and labels

    /// The counts of `loop`, made the first time it is asked for (when a generation's resources are made).
    func loopMetrics(for loop: any EventLoop) -> LoopMetrics {
        state.withLockedValue { state in
            if let found = state.loops.first(where: { $0.eventLoop === loop }) { return found.value }
            let made = LoopMetrics()
            state.loops.append(NIOLoopBound(made, eventLoop: loop))
            return made
        }
    }

    /// The number of a label value from the configuration (a listener, a route prefix, an upstream server).
    func labelID(_ value: String) -> Int {
        state.withLockedValue { state in
            if let id = state.labelIDs[value] { return id }
            state.labels.append(value)
            state.labelIDs[value] = state.labels.count - 1
            return state.labels.count - 1
        }
    }

    // MARK: Collecting

    /// Asks every loop for what it counted since it was last asked, and adds it to the metrics. A loop that has
    /// stopped (a reload that changed `threads`) is dropped, after its last counts were taken at its retirement.
    func collect() async {
        let loops = state.withLockedValue { $0.loops }
        var all: [LoopMetrics.Changes] = []
        for metrics in loops {
            if let changes = try? await metrics.eventLoop.submit({ metrics.value.takeChanges() }).get() {
                all.append(changes)
            }
        }
        apply(all)
    }

    /// Takes the last counts of `loops` (before they stop) and forgets them.
    func retire(_ loops: [any EventLoop]) async {
        let leaving = state.withLockedValue { state in
            state.loops.filter { entry in loops.contains { $0 === entry.eventLoop } }
        }
        var all: [LoopMetrics.Changes] = []
        for metrics in leaving {
            if let changes = try? await metrics.eventLoop.submit({ metrics.value.takeChanges() }).get() {
                all.append(changes)
            }
        }
        apply(all, connectionsComplete: false)
        state.withLockedValue { state in state.loops.removeAll { entry in loops.contains { $0 === entry.eventLoop } } }
    }

    private func apply(_ all: [LoopMetrics.Changes], connectionsComplete: Bool = true) {
        state.withLockedValue { state in
            for changes in all {
                for (key, counts, durations) in changes.requests {
                    for (index, count) in counts.enumerated() where count > 0 {
                        requestCounter(key: key, method: index / 5, statusClass: index % 5, in: &state)
                            .increment(by: Int64(count))
                        state.answered &+= count
                    }
                    let histogram = requestHistogram(key: key, in: &state)
                    BucketedDurations.record(durations, in: histogram)
                }
                for (index, amount) in changes.counters.enumerated() where amount > 0 {
                    counted[index].increment(by: Int64(amount))
                }
                for (server, durations) in changes.upstreamResponses {
                    let histogram = upstreamResponseHistogram(server: server, in: &state)
                    BucketedDurations.record(durations, in: histogram)
                }
            }
            guard connectionsComplete else { return }
            var connections = [Int](repeating: 0, count: connectionGauges.count)
            for changes in all {
                for (slot, count) in changes.connections.enumerated() { connections[slot] += count }
            }
            state.connections = connections
            for (slot, gauge) in connectionGauges.enumerated() { gauge.record(connections[slot]) }
        }
    }

    private func requestCounter(key: Int, method: Int, statusClass: Int, in state: inout State) -> Counter {
        let counterKey = key << 8 | method << 3 | statusClass
        if let counter = state.requestCounters[counterKey] { return counter }
        let made = Counter(
            label: "edge_requests_total",
            dimensions: [
                ("listener", state.labels[key >> 16]), ("route", state.labels[key & 0xFFFF]),
                ("method", LoopMetrics.methodLabels[method]), ("status", "\(statusClass + 1)xx"),
            ], factory: registry)
        state.requestCounters[counterKey] = made
        return made
    }

    private func requestHistogram(key: Int, in state: inout State) -> any RecorderHandler {
        if let histogram = state.requestHistograms[key] { return histogram }
        let made = registry.makeRecorder(
            label: "edge_request_duration_seconds",
            dimensions: [("listener", state.labels[key >> 16]), ("route", state.labels[key & 0xFFFF])],
            aggregate: true)
        state.requestHistograms[key] = made
        return made
    }

    private func upstreamResponseHistogram(server: Int, in state: inout State) -> any RecorderHandler {
        if let histogram = state.upstreamResponseHistograms[server] { return histogram }
        let made = registry.makeRecorder(
            label: "edge_upstream_response_duration_seconds", dimensions: [("server", state.labels[server])],
            aggregate: true)
        state.upstreamResponseHistograms[server] = made
        return made
    }

    /// The metrics as Prometheus text, with every loop's counts and the process read now.
    public func exposition() async -> [UInt8] {
        await collect()
        process.update()
        return registry.exposition()
    }

    /// Responses counted up to the last collection, for the status page.
    var requestsAnswered: UInt64 { state.withLockedValue { $0.answered } }

    /// Open connections by protocol and state as last collected, in `ConnectionKind` order.
    var openConnections: [(kind: ConnectionKind, activity: ConnectionActivity, count: Int)] {
        let counts = state.withLockedValue { $0.connections }
        return ConnectionKind.allCases.flatMap { kind in
            ConnectionActivity.allCases.map { activity in
                let slot = LoopMetrics.slot(kind, activity)
                return (kind, activity, slot < counts.count ? counts[slot] : 0)
            }
        }
    }

    // MARK: Rare events, counted here

    /// A connection refused at accept, by `max_connections` or `max_connections_per_ip`.
    func refused(reason: String) {
        counter(in: refusals, key: reason) {
            Counter(label: "edge_refused_total", dimensions: [("reason", reason)], factory: registry)
        }.increment()
    }

    func handshakeFailed(reason: String) {
        counter(in: handshakeFailures, key: reason) {
            Counter(label: "edge_tls_handshake_failures_total", dimensions: [("reason", reason)], factory: registry)
        }.increment()
    }

    /// An upstream failure of a kind, a retry, or a server skipped as down.
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

    /// A new connection to `server` took `nanoseconds` (pooled connections are reused, so this is rare).
    func upstreamConnected(server: String, nanoseconds: Int64) {
        let histogram = upstreamConnectHistograms.withLockedValue { timers in
            if let histogram = timers[server] { return histogram }
            let made = registry.makeRecorder(
                label: "edge_upstream_connect_duration_seconds", dimensions: [("server", server)], aggregate: true)
            timers[server] = made
            return made
        }
        histogram.record(Double(nanoseconds) / 1e9)
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

    func reloaded(applied: Bool) {
        reloadResults[applied]!.increment()
    }

    private func counter<Key: Hashable>(
        in table: NIOLockedValueBox<[Key: Counter]>, key: Key, make: () -> Counter
    )
        -> Counter
    {
        table.withLockedValue { table in
            if let counter = table[key] { return counter }
            let made = make()
            table[key] = made
            return made
        }
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
