import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP2

/// Passes stream lifecycle notices on in the order they happened.
///
/// NIOHTTP2 announces a stream's creation to the delegate only after activating its channel. A stream that Edge
/// answers at once (a cached file) is therefore closed, and reported closed, before it is reported created; the
/// connection manager then asserts. This delegate holds such an early close back until the creation arrives.
///
/// It also remembers the highest stream created: the last stream Edge processed, which a GOAWAY must name.
final class OrderedStreamDelegate: NIOHTTP2StreamDelegate {
    private let next: any NIOHTTP2StreamDelegate
    /// Streams open as far as `next` knows, streams closed before their creation was reported, and the highest
    /// stream created.
    private let streams = NIOLockedValueBox(
        (announced: Set<HTTP2StreamID>(), closedEarly: Set<HTTP2StreamID>(), highest: HTTP2StreamID.rootStream))

    /// The connection's place in `edge_connections`: active while a stream is open, idle otherwise.
    private let gauge: NIOLoopBound<ConnectionGauge>?

    init(_ next: any NIOHTTP2StreamDelegate, gauge: NIOLoopBound<ConnectionGauge>? = nil) {
        self.next = next
        self.gauge = gauge
    }

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
        let closedEarly = streams.withLockedValue { streams in
            streams.highest = max(streams.highest, id)
            if streams.closedEarly.remove(id) != nil { return true }
            streams.announced.insert(id)
            return false
        }
        if !closedEarly { gauge?.value.set(.active) }
        next.streamCreated(id, channel: channel)
        if closedEarly { next.streamClosed(id, channel: channel) }
    }

    /// The highest stream created so far; stream 0 before the first.
    var highestStreamID: HTTP2StreamID {
        streams.withLockedValue { $0.highest }
    }

    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
        let (announced, nowIdle) = streams.withLockedValue { streams in
            if streams.announced.remove(id) != nil { return (true, streams.announced.isEmpty) }
            streams.closedEarly.insert(id)
            return (false, false)
        }
        if nowIdle { gauge?.value.set(.idle) }
        if announced { next.streamClosed(id, channel: channel) }
    }
}
