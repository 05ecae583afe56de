import NIOCore
import NIOHTTP2

/// Closes an HTTP/2 connection a while after it began to close (its first GOAWAY), whether or not the client
/// cooperates.
///
/// `NIOHTTP2ServerConnectionManagementHandler` closes an idle connection in two steps: a GOAWAY and a PING, then,
/// once the client answers the PING, the final GOAWAY and the close. A client that never answers (a bot, or
/// someone holding connections open on purpose) would keep the connection for ever; this bounds it.
final class GoAwayDeadlineHandler: ChannelOutboundHandler {
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let grace: TimeAmount
    private var deadline: Scheduled<Void>?

    /// `grace` is how long a closing connection may take: its streams' last responses, and the client's answer.
    init(grace: TimeAmount) {
        self.grace = grace
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if deadline == nil, case .goAway = unwrapOutboundIn(data).payload {
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
        }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}
