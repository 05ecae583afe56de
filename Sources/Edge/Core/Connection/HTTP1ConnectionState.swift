/// The life of one HTTP/1 client connection as a pure state machine: which timeout applies, whether the
/// connection stays open after a response, what a stop request does.
///
/// The channel handler feeds it events and performs the actions it returns, so every decision here is testable
/// without a channel or a clock.
public struct HTTP1ConnectionState: Sendable {
    /// The timeouts of a client connection, by what they protect against.
    public enum Timeout: Hashable, Sendable {
        /// A request head (and, for now, its body) must complete within `timeouts.header`.
        case header
        /// An idle kept-alive connection closes after `timeouts.keepalive`.
        case keepalive
        /// A proxied request body must keep arriving: at most `timeouts.body` between two reads.
        case body
    }

    public enum Phase: Hashable, Sendable {
        /// Waiting for a request head; `receivedBytes` once part of one has arrived.
        case awaitingHead(receivedBytes: Bool)
        /// A head arrived; waiting for the end of its body.
        case receivingRequest(keepAlive: Bool)
        /// The last response is written or being written; nothing more is read.
        case closing
    }

    /// What the handler must do after an event.
    public enum Action: Hashable, Sendable {
        case none
        /// (Re)arm the request timer.
        case armTimer(Timeout)
        /// Close once everything written so far has gone out.
        case closeAfterPendingWrites
    }

    public private(set) var phase: Phase = .awaitingHead(receivedBytes: false)
    /// Set by a graceful stop: finish the current request, then close instead of waiting for another.
    public private(set) var isQuiescing = false
    /// A request head has arrived on this connection: waiting for another is idling, not a first request on its way.
    private var hadRequest = false

    public init() {}

    /// The connection was accepted: the first head must arrive within the header timeout (as nginx's
    /// `client_header_timeout` applies to the first request).
    public mutating func connectionOpened() -> Action {
        .armTimer(.header)
    }

    /// Bytes arrived that did not (yet) make a complete head.
    public mutating func bytesReceived() -> Action {
        guard case .awaitingHead(receivedBytes: false) = phase else { return .none }
        phase = .awaitingHead(receivedBytes: true)
        return .armTimer(.header)
    }

    /// A request head arrived. Returns whether to process it (heads after a close decision are ignored).
    public mutating func headReceived(keepAlive: Bool) -> (process: Bool, action: Action) {
        guard case .awaitingHead(let receivedBytes) = phase else { return (false, .none) }
        phase = .receivingRequest(keepAlive: keepAlive && !isQuiescing)
        hadRequest = true
        // A head that arrived in one read after an idle spell has had no header timer yet: start one for its body.
        return (true, receivedBytes ? .none : .armTimer(.header))
    }

    /// The request ended and its response, which may itself demand closing, was written.
    /// - Returns: whether the response must say `Connection: close`, and the follow-up action.
    public mutating func responseWritten(responseClosesConnection: Bool) -> (closing: Bool, action: Action) {
        guard case .receivingRequest(let keepAlive) = phase else { return (true, .none) }
        if keepAlive && !responseClosesConnection && !isQuiescing {
            phase = .awaitingHead(receivedBytes: false)
            return (false, .armTimer(.keepalive))
        }
        phase = .closing
        return (true, .closeAfterPendingWrites)
    }

    /// What a response to the current request must say about the connection, before it is written.
    public func willKeepAlive(responseClosesConnection: Bool) -> Bool {
        guard case .receivingRequest(let keepAlive) = phase else { return false }
        return keepAlive && !responseClosesConnection && !isQuiescing
    }

    /// The server is stopping gracefully.
    public mutating func quiesce() -> Action {
        isQuiescing = true
        switch phase {
        case .awaitingHead(receivedBytes: false) where hadRequest:
            // Idle between requests: closing is safe (a client retries a request it sent into a closing
            // connection, as RFC 9112 §9.3.1 allows).
            phase = .closing
            return .closeAfterPendingWrites
        case .awaitingHead(receivedBytes: false):
            // Just accepted, its first request maybe already on the way (a stop or an upgrade that began as the
            // connection was accepted): it is answered, with `Connection: close`; the header timer bounds the wait.
            return .none
        case .awaitingHead(receivedBytes: true), .receivingRequest, .closing:
            return .none  // the response in progress will carry Connection: close
        }
    }

    /// The request could not be parsed; an error response is sent and the connection closes.
    public mutating func protocolError() -> Action {
        guard phase != .closing else { return .none }
        phase = .closing
        return .closeAfterPendingWrites
    }

    /// A timer expired. Returns whether the client should get 408 first (it had started a request).
    public mutating func timedOut(_ timeout: Timeout) -> (send408: Bool, action: Action) {
        let send408: Bool
        switch phase {
        case .awaitingHead(let receivedBytes): send408 = timeout != .keepalive && receivedBytes
        case .receivingRequest: send408 = true
        case .closing: return (false, .none)
        }
        phase = .closing
        return (send408, .closeAfterPendingWrites)
    }
}
