import NIOHTTP2

/// Follows an HTTP/2 connection's streams as the HTTP/2 handler opens and closes them, whoever answers them (the
/// connection itself, `HTTP2FastPath`, or a stream channel): the highest stream opened, which a GOAWAY must name as
/// the last one Edge processed, and the connection's place in `edge_connections` (active while a stream is open).
///
/// Told by `HTTP2FastPath`, which sees every stream event first: a handler of its own cast each event again.
final class HTTP2StreamTracker {
    /// The highest stream opened so far; stream 0 before the first.
    private(set) var highestStreamID = HTTP2StreamID.rootStream
    /// Streams opened and not yet closed. A set, not a count: a stream refused as it arrived may be reported closed
    /// without having been reported open.
    private var openStreams: Set<HTTP2StreamID> = []
    private let gauge: ConnectionGauge?

    init(gauge: ConnectionGauge?) {
        self.gauge = gauge
    }

    func streamCreated(_ id: HTTP2StreamID) {
        highestStreamID = max(highestStreamID, id)
        // Open streams are followed only for the gauge, which exists only while metrics are on.
        guard let gauge else { return }
        openStreams.insert(id)
        if openStreams.count == 1 { gauge.set(.active) }
    }

    func streamClosed(_ id: HTTP2StreamID) {
        guard let gauge else { return }
        if openStreams.remove(id) != nil && openStreams.isEmpty { gauge.set(.idle) }
    }
}
