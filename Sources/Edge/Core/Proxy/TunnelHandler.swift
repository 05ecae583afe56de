import NIOCore

/// Relays raw bytes between a client connection and an upstream connection after an HTTP upgrade (WebSocket and
/// the like), with back-pressure: a side reads only while the other side can take what it reads.
///
/// Both channels run on the same event loop (upstream pools are per loop), so partners call each other directly.
final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: TunnelHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false
    /// Shared by both ends.
    private var idleWatch: TunnelIdleWatch?

    /// Two handlers that forward to each other. A tunnel silent both ways for `idleTimeout` is closed, after
    /// `onIdle` (for the log) is called.
    static func pair(idleTimeout: TimeAmount, onIdle: @escaping () -> Void) -> (TunnelHandler, TunnelHandler) {
        let first = TunnelHandler()
        let second = TunnelHandler()
        first.partner = second
        second.partner = first
        let watch = TunnelIdleWatch(timeout: idleTimeout) { [weak first, weak second] in
            onIdle()
            first?.partnerClose()
            second?.partnerClose()
        }
        first.idleWatch = watch
        second.idleWatch = watch
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleWatch?.start(on: context.eventLoop)
        // Whichever side arrives second lets the first one start reading.
        partner?.partnerBecameWritable()
        if partner?.partnerIsWritable ?? false { context.read() } else { readPending = true }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
        idleWatch?.stop()
        idleWatch = nil
    }

    /// Bytes that arrived before the tunnel existed (the HTTP parser's leftovers).
    func forwardToPartner(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        partner?.partnerWrite(bytes)
        partner?.partnerFlush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        idleWatch?.noteActivity(at: context.eventLoop.now)
        partner?.partnerWrite(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleWatch?.stop()
        partner?.partnerClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.partnerIsWritable ?? false {
            context.read()
        } else {
            readPending = true
        }
    }

    private func partnerWrite(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerClose() {
        context?.close(promise: nil)
    }

    private var partnerIsWritable: Bool { context?.channel.isWritable ?? false }

    private func partnerBecameWritable() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }
}
