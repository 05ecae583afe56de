import NIOHTTP1
import Shared

/// Why a proxied request could not be answered by its upstream. Each case decides, in this one place, the status
/// the client gets, the `cause` the log line gives, whose fault it was (a client's doing is logged at info, an
/// upstream's at error), and the label a metric would count it under.
enum ProxyFailure: Error, Equatable {
    /// Every server of the upstream is marked down, or has been tried for this request.
    case noServerReachable(upstream: String)
    /// The connect failed (refused, or not within `timeouts.upstream_connect`): nothing was sent.
    case connectFailed(server: String, reason: String)
    /// The upstream closed the connection, or it broke, before the response head.
    case closedBeforeResponse(reason: String)
    /// The upstream closed the connection, or it broke, in the middle of the response body.
    case closedMidResponse(reason: String)
    /// The upstream's response cannot be parsed (or is a 101 nobody asked for): it did receive the request.
    case malformedResponse(detail: String)
    /// No response head within `timeouts.upstream_response`.
    case responseTimeout
    /// The response body stalled for `timeouts.upstream_response`.
    case responseStalled
    /// Gzip on the way out failed.
    case compressionFailed(reason: String)
    /// A chunked request body grew past `limits.max_body_size`.
    case requestBodyTooLarge(limit: Int)
    /// The request body stopped coming for `timeouts.body`.
    case requestBodyTimeout

    /// Attempts per request: the first, and up to three more where retrying is safe.
    static let maxAttempts = 4

    /// What the client gets, if no response head has gone out yet.
    var status: HTTPStatus {
        switch self {
        case .noServerReachable, .connectFailed, .closedBeforeResponse, .closedMidResponse, .malformedResponse,
            .compressionFailed:
            .badGateway
        case .responseTimeout, .responseStalled: .gatewayTimeout
        case .requestBodyTooLarge: .payloadTooLarge
        case .requestBodyTimeout: .requestTimeout
        }
    }

    /// The `cause` of the log line.
    var cause: String {
        switch self {
        case .noServerReachable(let upstream): "no server of upstream '\(upstream)' is reachable"
        case .connectFailed(let server, let reason): "cannot connect to \(server): \(reason)"
        case .closedBeforeResponse(let reason): "\(reason) before responding"
        case .closedMidResponse(let reason): "\(reason) mid-response"
        case .malformedResponse(let detail): "malformed response (\(detail))"
        case .responseTimeout: "no response within timeouts.upstream_response"
        case .responseStalled: "the response stalled mid-body for timeouts.upstream_response"
        case .compressionFailed(let reason): "gzip failed: \(reason)"
        case .requestBodyTooLarge(let limit): "request body grew past max_body_size (\(limit) bytes)"
        case .requestBodyTimeout: "request body not received in time"
        }
    }

    /// A client that stalls or sends too much is routine on the internet (nginx says so at info); a failing upstream
    /// is not.
    var isClientsFault: Bool {
        switch self {
        case .requestBodyTooLarge, .requestBodyTimeout: true
        default: false
        }
    }

    /// The `kind` label of `edge_upstream_failures_total`; `nil` for failures that are the client's or Edge's own,
    /// and for connect failures, which the pool counts as they happen (a retried one too).
    var upstreamFailureKind: String? {
        switch self {
        case .noServerReachable: "no_server"
        case .closedBeforeResponse, .closedMidResponse: "reset"
        case .malformedResponse: "malformed"
        case .responseTimeout, .responseStalled: "timeout"
        case .connectFailed, .compressionFailed, .requestBodyTooLarge, .requestBodyTimeout: nil
        }
    }

    /// A short stable name, for metrics labels.
    var label: String {
        switch self {
        case .noServerReachable: "no_server"
        case .connectFailed: "connect_failed"
        case .closedBeforeResponse: "closed_before_response"
        case .closedMidResponse: "closed_mid_response"
        case .malformedResponse: "malformed_response"
        case .responseTimeout: "response_timeout"
        case .responseStalled: "response_stalled"
        case .compressionFailed: "compression_failed"
        case .requestBodyTooLarge: "request_body_too_large"
        case .requestBodyTimeout: "request_body_timeout"
        }
    }

    /// Whether the request may go to the upstream again (after `attempts` so far), the one retry rule of the proxy:
    /// only when the failure proves the app never received the request.
    ///
    /// - A failed connect sent nothing: any method may go to another server.
    /// - A pooled connection the upstream had closed while idle fails before any response byte: the request never
    ///   reached the app, but that is only certain for a reused connection and a request that sent no body byte,
    ///   and retrying is only harmless for a method RFC 9110 calls idempotent.
    /// - Anything else may have reached the app.
    func allowsRetry(attempts: Int, connectionWasReused: Bool, method: HTTPMethod, bodyBytesSent: Int) -> Bool {
        guard attempts < Self.maxAttempts else { return false }
        switch self {
        case .connectFailed:
            return true
        case .closedBeforeResponse:
            return connectionWasReused && bodyBytesSent == 0 && Self.idempotentMethods.contains(method)
        default:
            return false
        }
    }

    private static let idempotentMethods: [HTTPMethod] = [.GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE]
}
