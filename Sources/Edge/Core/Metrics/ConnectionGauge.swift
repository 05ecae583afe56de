import CoreMetrics

/// A connection's protocol, the `protocol` label of `edge_connections`.
enum ConnectionKind: String, CaseIterable, Sendable {
    case http1 = "h1"
    case http1TLS = "h1-tls"
    case http2 = "h2"
    /// Accepted on a TLS listener, protocol not yet negotiated.
    case tlsHandshake = "tls-handshake"
}

/// Whether a connection is serving a request (`active`) or waiting for the next one (`idle`).
enum ConnectionActivity: String, CaseIterable, Sendable {
    case active, idle
}

/// One connection's place in `edge_connections{protocol, state}`: it moves as the connection changes protocol
/// (a TLS handshake becomes h1-tls or h2) or state, and leaves when the connection closes.
///
/// A class shared by the connection's handlers (the HTTP/1 handler, or the HTTP/2 stream delegate) and its close
/// callback, all on the connection's event loop.
final class ConnectionGauge {
    private let metrics: EdgeMetrics
    private var current: (kind: ConnectionKind, activity: ConnectionActivity)?
    private var closed = false

    init(metrics: EdgeMetrics, kind: ConnectionKind, activity: ConnectionActivity) {
        self.metrics = metrics
        move(to: kind, activity)
    }

    /// Counts the connection as `kind` in `activity` from now on.
    func move(to kind: ConnectionKind, _ activity: ConnectionActivity) {
        guard !closed else { return }
        if let current {
            guard current.kind != kind || current.activity != activity else { return }
            metrics.connections(current.kind, current.activity).decrement()
        }
        metrics.connections(kind, activity).increment()
        current = (kind, activity)
    }

    /// Keeps the protocol, changes the state.
    func set(_ activity: ConnectionActivity) {
        guard let kind = current?.kind else { return }
        move(to: kind, activity)
    }

    /// The connection closed: it is no longer counted.
    func close() {
        guard !closed, let current else { return }
        metrics.connections(current.kind, current.activity).decrement()
        closed = true
        self.current = nil
    }
}
