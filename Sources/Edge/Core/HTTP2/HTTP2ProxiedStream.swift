import NIOCore
import NIOHTTP2
import Shared

/// What a proxied stream needs of the HTTP/2 connection carrying it (`HTTP2FastPath`).
protocol HTTP2StreamCarrier: AnyObject {
    /// For the buffers of the response; `nil` once the connection has left its pipeline.
    var allocator: ByteBufferAllocator? { get }
    /// Whether the connection itself takes more (its socket is not backed up).
    var connectionIsWritable: Bool { get }
    func write(_ payload: HTTP2Frame.FramePayload, on stream: HTTP2StreamID, promise: EventLoopPromise<Void>?)
    /// What was written goes out once this loop tick's other upstream reads have written theirs too.
    func flushSoon()
    /// The whole response is written; its last frame leaves when `written` completes.
    func proxiedStreamEnded(_ stream: HTTP2ProxiedStream, _ proxy: ProxiedRequest, written: EventLoopFuture<Void>?)
    /// The proxied request failed (logged already): answered, or reset if its response had begun.
    func proxiedStreamFailed(_ stream: HTTP2ProxiedStream, _ proxy: ProxiedRequest, _ failure: ProxyFailure)
    /// The client has not taken any of the response for `timeouts.send`: the stream is given up.
    func proxiedStreamStalled(_ stream: HTTP2ProxiedStream)
}

/// One proxied HTTP/2 request without a body, carried on its connection instead of a stream channel of its own: the
/// `ProxiedRequest` (the same as for HTTP/1.x, with its gzip, error pages, fields and logs) writes its HTTP/1.1
/// response here, which turns it into the stream's frames.
///
/// The stream's part of flow control is here too: the response counts as unwritable while more than
/// `blockedBytes` of it wait for the client's window (the proxy then stops reading the upstream, as it would for a
/// slow HTTP/1 client), and a stream whose client takes nothing for `timeouts.send` is given up.
final class HTTP2ProxiedStream: ProxiedRequestConnection {
    /// As a stream channel's outbound high and low watermarks: one DATA frame's worth may wait.
    private static let blockedBytes = 16 * 1024
    private static let unblockedBytes = 8 * 1024

    let id: HTTP2StreamID
    let request: RequestInProgress
    /// Set by `start`; held while the request is in progress.
    private(set) var proxy: ProxiedRequest?
    /// Dropped when the stream ends, however it ends.
    private var carrier: (any HTTP2StreamCarrier)?
    private let eventLoop: any EventLoop
    private let sendTimeout: TimeAmount
    private var framer = HTTP2ResponseFramer()
    /// DATA bytes written and not yet gone to the socket: what the client's window holds back.
    private var unsentBytes = 0
    private var lastProgress: NIODeadline
    private var stallCheck: Scheduled<Void>?
    private var lastFrameWritten: EventLoopFuture<Void>?

    init(
        id: HTTP2StreamID, request: RequestInProgress, carrier: any HTTP2StreamCarrier, eventLoop: any EventLoop,
        sendTimeout: TimeAmount
    ) {
        self.id = id
        self.request = request
        self.carrier = carrier
        self.eventLoop = eventLoop
        self.sendTimeout = sendTimeout
        self.lastProgress = request.start
    }

    /// Sends the request upstream. Its end is known already: a request with a body takes a stream channel.
    func start(_ proxy: ProxiedRequest) {
        self.proxy = proxy
        framer.expectResponse(toHEAD: proxy.request.isHEAD)
        proxy.clientEnd()
        proxy.start()
    }

    /// The client reset the stream or the connection closed: the upstream request is abandoned. Returns the
    /// proxied request, for its log line.
    func clientLeft() -> ProxiedRequest? {
        let proxy = self.proxy
        end()
        proxy?.clientLeft()
        return proxy
    }

    /// The connection can take more again: so can this stream, unless its own window holds it.
    func connectionBecameWritable() {
        if unsentBytes <= Self.unblockedBytes { proxy?.clientBecameWritable() }
    }

    private func end() {
        proxy = nil
        carrier = nil
        stallCheck?.cancel()
        stallCheck = nil
    }

    // MARK: - ProxiedRequestConnection

    var clientIsWritable: Bool {
        guard let carrier, carrier.connectionIsWritable, unsentBytes <= Self.blockedBytes else {
            watchForStall()
            return false
        }
        return true
    }

    var allocator: ByteBufferAllocator? { carrier?.allocator }

    /// The connection outlives every response on it; a stream ends with its response.
    func willKeepAlive(responseClosesConnection closes: Bool) -> Bool { true }

    func writeToClient(_ bytes: ByteBuffer) {
        guard let carrier else { return }
        let frames: [HTTP2Frame.FramePayload]
        do {
            frames = try framer.frames(for: bytes)
        } catch {
            // Edge wrote something it cannot read back: a bug, not the client's fault.
            proxy?.fail(.malformedResponse(detail: "the response could not be framed for HTTP/2: \(error)"))
            return
        }
        for frame in frames { write(frame, carrier: carrier) }
    }

    func flushToClient() {
        guard let carrier else { return }
        if let head = framer.takeHeldHead() { write(head, carrier: carrier) }
        carrier.flushSoon()
    }

    /// A request without a body is never paused.
    func pauseClientReads(_ paused: Bool) {}

    func proxiedResponseEnded(closesConnection: Bool) {
        guard let carrier, let proxy else { return }
        end()
        carrier.proxiedStreamEnded(self, proxy, written: lastFrameWritten)
    }

    func proxiedRequestFailed(_ failure: ProxyFailure) {
        guard let carrier, let proxy else { return }
        end()
        carrier.proxiedStreamFailed(self, proxy, failure)
    }

    /// Never asked for: a request that asks to switch protocols cannot come over HTTP/2, whose translation refuses
    /// `Connection` and `Upgrade`.
    func proxiedRequestUpgraded(_ head: ResponseHead, upstream: UpstreamConnection) {
        upstream.channel.close(promise: nil)
        proxiedRequestFailed(.malformedResponse(detail: "101 on an HTTP/2 stream"))
    }

    // MARK: - Writing, and the client's window

    private func write(_ frame: HTTP2Frame.FramePayload, carrier: any HTTP2StreamCarrier) {
        let ends: Bool
        var size = 0
        switch frame {
        case .headers(let headers): ends = headers.endStream
        case .data(let data):
            ends = data.endStream
            size = data.data.readableBytes
        default: ends = false
        }
        guard size > 0 || ends else {
            carrier.write(frame, on: id, promise: nil)
            return
        }
        let written = eventLoop.makePromise(of: Void.self)
        if ends { lastFrameWritten = written.futureResult }
        if size > 0 {
            // The time the client is allowed for taking it runs from here if nothing else was waiting.
            if unsentBytes == 0 { lastProgress = eventLoop.now }
            unsentBytes += size
            written.futureResult.assumeIsolated().whenComplete { [self] _ in left(size) }
        }
        carrier.write(frame, on: id, promise: written)
    }

    /// `size` bytes went to the socket (or were dropped with the stream).
    private func left(_ size: Int) {
        let wasBlocked = unsentBytes > Self.unblockedBytes
        unsentBytes -= size
        lastProgress = eventLoop.now
        if wasBlocked && unsentBytes <= Self.unblockedBytes, carrier?.connectionIsWritable ?? false {
            proxy?.clientBecameWritable()
        }
    }

    /// As nginx's `send_timeout`: the time allowed between two pieces the client takes, not for the whole
    /// response.
    private func watchForStall() {
        guard stallCheck == nil, carrier != nil else { return }
        stallCheck = eventLoop.assumeIsolated().scheduleTask(deadline: lastProgress + sendTimeout) { [self] in
            stallCheck = nil
            guard let carrier, proxy != nil else { return }
            if unsentBytes > Self.blockedBytes || !carrier.connectionIsWritable {
                if eventLoop.now - lastProgress >= sendTimeout {
                    carrier.proxiedStreamStalled(self)
                } else {
                    watchForStall()
                }
            }
        }
    }
}
