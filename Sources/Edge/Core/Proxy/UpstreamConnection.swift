import NIOCore
import NIOHTTP1

/// What an upstream connection reports to the exchange using it.
protocol UpstreamListener: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamClosed(error: (any Error)?)
    /// The upstream takes request bytes again after having been full.
    func upstreamBecameWritable()
}

/// The last handler of a pooled upstream connection: forwards response parts to the exchange currently using
/// the connection, and tells the pool when an idle connection goes away.
final class UpstreamConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    let channel: any Channel
    let server: UpstreamServer
    /// The exchange using the connection; set by the exchange, cleared by the pool on release (strong: see
    /// `ProxyExchange.client`).
    var listener: (any UpstreamListener)?
    /// The pool holding this connection while it is idle, so a close by the upstream removes it there. (A plain
    /// reference rather than a closure with weak captures: those cost slow-path reference counting per release.)
    var idleIn: UpstreamPool?
    private(set) var isClosed = false
    /// The HTTP codec, removed when the connection becomes a tunnel after an upgrade.
    var codec: (encoder: HTTPRequestEncoder, decoder: ByteToMessageHandler<HTTPResponseDecoder>)?

    init(channel: any Channel, server: UpstreamServer) {
        self.channel = channel
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        listener?.upstreamReceived(unwrapInboundIn(data))
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
        idleIn?.idleConnectionClosed(self)
        idleIn = nil
        listener?.upstreamClosed(error: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        listener?.upstreamClosed(error: error)
        listener = nil
        context.close(promise: nil)
    }
}

extension UpstreamConnection {
    /// Turns this connection into a raw byte tunnel: the HTTP codec and this handler leave the pipeline, `tunnel`
    /// takes their place and receives any bytes the decoder had already read past the 101 response. `ready` runs
    /// once nothing HTTP is left in the pipeline (the decoder also watches writes, so it must be gone first).
    func becomeTunnel(_ tunnel: TunnelHandler, ready: @escaping () -> Void) throws {
        let pipeline = channel.pipeline.syncOperations
        listener = nil
        try pipeline.addHandler(tunnel)
        pipeline.removeHandler(self, promise: nil)
        guard let codec else {
            ready()
            return
        }
        pipeline.removeHandler(codec.encoder, promise: nil)
        let decoderGone = channel.eventLoop.makePromise(of: Void.self)
        pipeline.removeHandler(codec.decoder, promise: decoderGone)
        decoderGone.futureResult.assumeIsolated().whenComplete { [channel] _ in
            try? channel.syncOptions?.setOption(.autoRead, value: true)
            ready()
        }
    }
}
