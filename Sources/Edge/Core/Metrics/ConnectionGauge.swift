/// A connection's protocol, the `protocol` label of `edge_connections`.
enum ConnectionKind: String, CaseIterable, Sendable {
    case http1 = "h1"
    case http1TLS = "h1-tls"
    case http2 = "h2"
    /// Accepted on a TLS listener, protocol not yet negotiated.
    case tlsHandshake = "tls-handshake"

    /// Its place in `allCases`, for the per-loop counts.
    var index: Int {
        switch self {
        case .http1: 0
        case .http1TLS: 1
        case .http2: 2
        case .tlsHandshake: 3
        }
    }
}

/// Whether a connection is serving a request (`active`) or waiting for the next one (`idle`).
enum ConnectionActivity: String, CaseIterable, Sendable {
    case active, idle
}

/// One connection's place in `edge_connections{protocol, state}`: it moves as the connection changes protocol
/// (a TLS handshake becomes h1-tls or h2) or state, and leaves when the connection closes.
///
/// A class shared by the connection's handlers (the HTTP/1 handler, or the HTTP/2 stream delegate) and its close
/// callback, all on the connection's event loop, whose `LoopMetrics` it counts in. It keeps its slot there as a
/// number: an HTTP/1 connection moves twice per request.
final class ConnectionGauge {
    private let metrics: LoopMetrics
    private var kind: ConnectionKind
    /// Its slot in the loop's counts; -1 once closed.
    private var slot: Int

    init(metrics: LoopMetrics, kind: ConnectionKind, activity: ConnectionActivity) {
        self.metrics = metrics
        self.kind = kind
        self.slot = LoopMetrics.slot(kind, activity)
        metrics.connectionMoved(from: -1, to: slot)
    }

    /// Counts the connection as `kind` in `activity` from now on.
    func move(to kind: ConnectionKind, _ activity: ConnectionActivity) {
        self.kind = kind
        set(activity)
    }

    /// Keeps the protocol, changes the state.
    func set(_ activity: ConnectionActivity) {
        let target = LoopMetrics.slot(kind, activity)
        guard slot >= 0, target != slot else { return }
        metrics.connectionMoved(from: slot, to: target)
        slot = target
    }

    /// The connection closed: it is no longer counted.
    func close() {
        guard slot >= 0 else { return }
        metrics.connectionMoved(from: slot, to: -1)
        slot = -1
    }
}
