import NIOCore
import Shared

/// The access log's line for each response: the request, the outcome, and the client as `real_ip` decides it.
extension HTTP1ConnectionHandler {
    /// The access log line for a response, `nil` when logging is off; `facts` is evaluated only when logging is on.
    /// Without them (refusals, timeouts, failed proxying) `Referer` and `User-Agent` are read from the head here:
    /// the client that sent a refused request is the one an operator looks for.
    /// Without a parsed head, `refusedLine` (the request line of a head refused for its fields) stands in for it.
    /// `clientAddress` is the client as already decided for this request, if it was (proxied requests).
    func accessLogEntry(
        for head: RequestHead?, status: HTTPStatus, facts: @autoclosure () -> RequestHeaderFacts?, start: NIODeadline,
        now: NIODeadline, refusedLine: (method: String, target: String, version: String)? = nil,
        clientAddress decided: String? = nil
    ) -> AccessLogEntry? {
        guard resources.accessLog.isEnabled else { return nil }
        let facts = facts() ?? head.map { RequestHeaderFacts($0.headers, forLogging: true) }
        let version = transport == .http2Stream ? "HTTP/2.0" : head?.versionText ?? refusedLine?.version ?? "-"
        return AccessLogEntry(
            remoteAddress: decided ?? clientAddress(of: head), time: resources.dates.accessLogTime(),
            method: head?.method.rawValue ?? refusedLine?.method ?? "-",
            uri: head?.target ?? refusedLine?.target ?? "-", version: version, status: status.code, bodyBytesSent: 0,
            referer: facts?.referer, userAgent: facts?.userAgent,
            requestTime: Double((now - start).nanoseconds) / 1e9, scheme: transport.scheme)
    }

    /// The client's address as the access log shows it: the peer's, or the one a `real_ip.trusted` peer gave.
    func clientAddress(of head: RequestHead?) -> String {
        guard let head, peerIsTrusted else { return remoteAddress }
        return ProxyHeaders.claimedClientAddress(headers: head.headers, realIP: settings.realIP) ?? remoteAddress
    }
}
