import NIOCore
import NIOHTTP2

/// Follows an HTTP/2 connection's streams as the HTTP/2 handler opens and closes them, whoever answers them (the
/// connection itself, `HTTP2FastPath`, or a stream channel): the highest stream opened, which a GOAWAY must name as
/// the last one Edge processed, and the connection's place in `edge_connections` (active while a stream is open).
///
/// Sits right behind the HTTP/2 handler, which announces each stream before its first frame and its end after its
/// last.
final class HTTP2StreamTracker: ChannelInboundHandler {
    typealias InboundIn = Any

    /// The highest stream opened so far; stream 0 before the first.
    private(set) var highestStreamID = HTTP2StreamID.rootStream
    /// Streams opened and not yet closed. A set, not a count: a stream refused as it arrived may be reported closed
    /// without having been reported open.
    private var openStreams: Set<HTTP2StreamID> = []
    private let gauge: ConnectionGauge?

    init(gauge: ConnectionGauge?) {
        self.gauge = gauge
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let created = event as? NIOHTTP2StreamCreatedEvent {
            highestStreamID = max(highestStreamID, created.streamID)
            openStreams.insert(created.streamID)
            if openStreams.count == 1 { gauge?.set(.active) }
        } else if let closed = event as? StreamClosedEvent, openStreams.remove(closed.streamID) != nil {
            if openStreams.isEmpty { gauge?.set(.idle) }
        }
        context.fireUserInboundEventTriggered(event)
    }
}
