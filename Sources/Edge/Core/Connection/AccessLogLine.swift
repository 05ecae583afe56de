import NIOCore
import Shared

/// Makes the access log's line for a response on one connection: the request, the outcome, and the client.
struct AccessLogLine {
    let resources: LoopResources
    let transport: ConnectionTransport

    var isEnabled: Bool { resources.accessLog.isEnabled }

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

    /// The line of a proxied request that ended (or was cut), with the upstream's fields. `request` is passed whole,
    /// not its head: a head taken out of it would be copied, field by field, also when logging is off.
    func proxied(
        _ proxy: ProxiedRequest, request: RequestInProgress?, status: Int, now: NIODeadline
    ) -> AccessLogEntry? {
        guard isEnabled,
            var entry = entry(
                for: request?.head, status: HTTPStatus(code: status, reason: ""), facts: proxy.request.facts,
                start: request?.start ?? now, now: now, client: proxy.request.clientAddress)
        else { return nil }
        entry.bodyBytesSent = proxy.responseBytes
        entry.upstream = proxy.upstreamFacts
        entry.requestID = proxy.request.id
        return entry
    }

    func append(_ entry: AccessLogEntry) {
        resources.accessLog.append(entry)
    }
}
