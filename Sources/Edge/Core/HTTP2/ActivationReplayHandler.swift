import NIOCore

/// Replays `channelActive` to the handlers behind it, then leaves the pipeline.
///
/// HTTP/2 is set up after the TLS handshake has chosen it, when the channel has long been active, and
/// `NIOHTTP2ServerConnectionManagementHandler` starts its idle timer only in `channelActive`. Without the replay
/// a connection that never opens a stream (a client that sends its preface and then nothing, or a speculative
/// browser preconnect) was never closed for being idle.
final class ActivationReplayHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.fireChannelActive() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
