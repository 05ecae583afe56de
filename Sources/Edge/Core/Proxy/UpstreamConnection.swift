import NIOCore
import Shared

/// What an upstream connection reports to the exchange using it.
protocol UpstreamListener: AnyObject {
    func upstreamReceived(_ event: HTTP1ResponseParser.Event)
    func upstreamReadComplete()
    func upstreamClosed(error: (any Error)?)
    /// The upstream takes request bytes again after having been full.
    func upstreamBecameWritable()
    /// The upstream stayed silent longer than the timeout given to `expectResponse(within:)`: no response head, or no
    /// byte of a response body that had begun.
    func upstreamTimedOut()
}

/// The only handler of a pooled upstream connection: parses responses with `HTTP1ResponseParser` and hands them to
/// the exchange currently using the connection, holds reads back while that exchange's client is full, and tells
/// the pool when an idle connection goes away.
///
/// Requests go out as bytes the exchange encodes itself; there is no codec in the pipeline.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let channel: any Channel
    /// The server this connection goes to, with its pool bookkeeping.
    let pooled: PooledServer
    var server: UpstreamServer { pooled.server }
    /// The exchange using the connection; set by the exchange, cleared by the pool on release (strong: see
    /// `ProxyExchange.client`).
    var listener: (any UpstreamListener)?
    /// The pool holding this connection while it is idle, so a close by the upstream removes it there. (A plain
    /// reference rather than a closure with weak captures: those cost slow-path reference counting per release.)
    var idleIn: UpstreamPool?
    private(set) var isClosed = false
    /// Bytes the upstream sent after the end of a response, before any next request: more than its own framing
    /// announced (a wrong `Content-Length`, a body to a HEAD), or a response smuggled in behind the real one. Such
    /// a connection is never reused, or the next client would read those bytes as its response.
    private(set) var surplusBytes = 0
    /// Idle, open, and in step with the upstream.
    var mayBeReused: Bool { !isClosed && surplusBytes == 0 }
    private var parser = HTTP1ResponseParser()
    /// After a 101 the connection no longer speaks HTTP: bytes are kept for the tunnel that takes over.
    private var switchedProtocols = false
    private var lastHeadStatus = 0
    private var readsPaused = false
    private var readPending = false
    /// How long the upstream may stay silent while a response is due (`timeouts.upstream_response`); zero while
    /// the request is still going up (an app may answer early and then read a slow upload before going on).
    private var silenceTimeout = TimeAmount.zero
    /// Between a response's head and its end.
    private var readingBody = false
    /// When the upstream must have sent something: the head, or the next piece of a body that has begun. Nothing is
    /// due while nothing is expected, and while reads are paused for a slow client (`timeouts.send` watches the
    /// client then).
    /// Holds this connection until `handlerRemoved` cancels it.
    private lazy var responseDeadline = LazyDeadline(on: channel.eventLoop) { [self] in
        listener?.upstreamTimedOut()
    }

    /// This handler's place in the pipeline while it is in one. Requests are written from here rather than from the
    /// channel, whose writes start at the pipeline's tail and pass through this handler first (two handler hops per
    /// request, write and flush). Cleared when the handler leaves: the context holds the handler.
    private var context: ChannelHandlerContext?

    init(channel: any Channel, pooled: PooledServer) {
        self.channel = channel
        self.pooled = pooled
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        responseDeadline.cancel()
    }

    /// Sends an encoded request (head and whatever body is ready) and flushes.
    func send(_ bytes: ByteBuffer, respondingToHEAD: Bool) {
        parser.expectResponse(toHEAD: respondingToHEAD)
        if let context {
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        } else {
            channel.writeAndFlush(bytes, promise: nil)
        }
    }

    /// Stops reading from the upstream (the client cannot take more) or starts again.
    func pauseReads(_ paused: Bool) {
        readsPaused = paused
        if readingBody && silenceTimeout > .zero {
            // Silence the upstream was asked for is not the upstream's fault.
            responseDeadline.expect(by: paused ? nil : channel.eventLoop.now + silenceTimeout)
        }
        if !paused && readPending {
            readPending = false
            channel.read()
        }
    }

    /// Starts watching the upstream once the whole request is up: its response head must come within `timeout`, and
    /// then, while the body streams, no gap between two reads may be longer (nginx's `proxy_read_timeout`).
    func expectResponse(within timeout: TimeAmount) {
        silenceTimeout = timeout
        responseDeadline.expect(by: channel.eventLoop.now + timeout)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        parser.append(unwrapInboundIn(data))
        guard !switchedProtocols else { return }
        guard listener != nil else {
            // An idle connection has nothing to say; bytes here mean the upstream is confused.
            context.close(promise: nil)
            return
        }
        do {
            while let listener, !switchedProtocols, let event = try parser.next() {
                switch event {
                case .head(let head):
                    lastHeadStatus = head.status
                    readingBody = true
                case .end:
                    readingBody = false
                    responseDeadline.expect(by: nil)
                    silenceTimeout = .zero
                    if lastHeadStatus == 101 {
                        switchedProtocols = true  // what follows belongs to the tunnel
                    } else {
                        surplusBytes = parser.unparsedByteCount
                    }
                case .body:
                    break
                }
                listener.upstreamReceived(event)
            }
            // A response still streaming must show progress again within the timeout. (One that ended in this read,
            // the common case, costs no clock reading.)
            if readingBody && !readsPaused && silenceTimeout > .zero {
                responseDeadline.expect(by: context.eventLoop.now + silenceTimeout)
            }
        } catch {
            let listener = self.listener
            self.listener = nil
            listener?.upstreamClosed(error: error)
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        listener?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { listener?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        responseDeadline.cancel()
        idleIn?.idleConnectionClosed(self)
        idleIn = nil
        if let listener {
            // A body delimited by the close ends here; anything else cut short is an error.
            do {
                if let end = try parser.connectionClosed() {
                    listener.upstreamReceived(end)
                } else {
                    listener.upstreamClosed(error: nil)
                }
            } catch {
                listener.upstreamClosed(error: error)
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        listener?.upstreamClosed(error: error)
        listener = nil
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        guard !readsPaused else {
            readPending = true
            return
        }
        context.read()
    }
}

extension UpstreamConnection {
    /// Turns this connection into a raw byte tunnel after a 101: `tunnel` replaces this handler and first receives
    /// the bytes the upstream sent right after its response.
    func becomeTunnel(_ tunnel: TunnelHandler) throws {
        listener = nil
        try channel.pipeline.syncOperations.addHandler(tunnel)
        tunnel.forwardToPartner(parser.takeUnparsedBytes())
        channel.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}
