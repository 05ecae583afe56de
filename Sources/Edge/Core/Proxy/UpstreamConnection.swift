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
final class UpstreamConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let channel: any Channel
    let server: UpstreamServer
    weak var listener: (any UpstreamListener)?
    /// Set by the pool while the connection is idle, so a close by the upstream removes it from the pool.
    var onIdleClose: (() -> Void)?
    private(set) var isClosed = false

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
        onIdleClose?()
        listener?.upstreamClosed(error: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        listener?.upstreamClosed(error: error)
        listener = nil
        context.close(promise: nil)
    }
}
