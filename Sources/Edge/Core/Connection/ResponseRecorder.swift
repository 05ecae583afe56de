import NIOCore
import NIOHTTP1
import Shared

/// Records each response of one connection: counts it in Edge's metrics (when the admin listener is on) and makes
/// its access log line (when logging is on).
struct ResponseRecorder {
    let resources: LoopResources
    let transport: ConnectionTransport
    let settings: ConnectionSettings
    /// The listener's number in Edge's metrics.
    let listenerID: Int

    var isEnabled: Bool { resources.accessLog.isEnabled }
    /// Whether a response's time is wanted: for the metrics or the access log.
    var needsTime: Bool { resources.metrics != nil || isEnabled }

    /// Counts a response in the metrics: by listener, route, method and status class, with the time since the
    /// head arrived, and its body bytes.
    ///
    /// `target` and `method` are the request's (`nil` for a head refused before it was parsed); `routeIndex` the
    /// route that answered, when known (-1: routed here, from `target`), which is read only when metrics are on and the
    /// route is not known.
    func count(
        target: @autoclosure () -> String?, method: HTTPMethod?, routeIndex: Int = -1, status: Int, start: NIODeadline,
        now: NIODeadline, bodyBytes: Int
    ) {
        guard let metrics = resources.metrics else { return }
        let route = routeIndex >= 0 ? routeIndex : target().flatMap(settings.site.routeIndex(forTarget:))
        metrics.recordResponse(
            listener: listenerID, route: route.map { settings.routeMetricIDs[$0] } ?? settings.noRouteMetricID,
            method: method.map(LoopMetrics.methodIndex) ?? 0, status: status,
            nanoseconds: (now - start).nanoseconds, bodyBytes: bodyBytes)
    }

    /// The line for a response, `nil` when logging is off; `facts` and `client` are evaluated only when it is on.
    /// Without facts (refusals, timeouts, failed proxying) `Referer` and `User-Agent` are read from the head here:
    /// the client that sent a refused request is the one an operator looks for. Without a parsed head,
    /// `refusedLine` (the request line of a head refused for its fields) stands in for it.
    func entry(
        for head: RequestHead?, status: HTTPStatus, facts: @autoclosure () -> RequestHeaderFacts?, start: NIODeadline,
        now: NIODeadline, refusedLine: (method: String, target: String, version: String)? = nil,
        client: @autoclosure () -> String
    ) -> AccessLogEntry? {
        guard isEnabled else { return nil }
        let facts = facts() ?? head.map { RequestHeaderFacts($0.headers, forLogging: true) }
        let version = transport == .http2Stream ? "HTTP/2.0" : head?.versionText ?? refusedLine?.version ?? "-"
        return AccessLogEntry(
            remoteAddress: client(), time: resources.dates.accessLogTime(),
            method: head?.method.rawValue ?? refusedLine?.method ?? "-",
            uri: head?.target ?? refusedLine?.target ?? "-", version: version, status: status.code, bodyBytesSent: 0,
            referer: facts?.referer, userAgent: facts?.userAgent,
            requestTime: Double((now - start).nanoseconds) / 1e9, scheme: transport.scheme)
    }

    /// Records a proxied request that ended (or was cut), with the upstream's fields in its log line. `request` is
    /// passed whole, not its head: a head taken out of it would be copied, field by field, also when logging is off.
    func proxied(_ proxy: ProxiedRequest, request: RequestInProgress?, status: Int, now: NIODeadline) {
        count(
            target: request?.head.target, method: request?.head.method, status: status, start: request?.start ?? now,
            now: now, bodyBytes: proxy.responseBytes)
        guard isEnabled,
            var entry = entry(
                for: request?.head, status: HTTPStatus(code: status, reason: ""), facts: proxy.request.facts,
                start: request?.start ?? now, now: now, client: proxy.request.clientAddress)
        else { return }
        entry.bodyBytesSent = proxy.responseBytes
        entry.upstream = proxy.upstreamFacts
        entry.requestID = proxy.request.id
        entry.traceID = proxy.request.traceID
        append(entry)
    }

    func append(_ entry: AccessLogEntry) {
        resources.accessLog.append(entry)
    }
}
