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
    /// Shared by both ends: a tunnel in which no byte has moved either way for `idleTimeout` is closed, so tunnels
    /// whose client vanished without closing (a phone that lost its network) do not hold two connections for ever.
    /// nginx closes an upgraded connection after `proxy_read_timeout` of silence the same way.
    private var idleDeadline: LazyDeadline?
    private var idleTimeout = TimeAmount.zero

    /// Two handlers that forward to each other, on `eventLoop`. A tunnel silent both ways for `idleTimeout` is
    /// closed, after `onIdle` (for the log) is called.
    static func pair(
        on eventLoop: any EventLoop, idleTimeout: TimeAmount, onIdle: @escaping () -> Void
    ) -> (TunnelHandler, TunnelHandler) {
        let first = TunnelHandler()
        let second = TunnelHandler()
        first.partner = second
        second.partner = first
        // Strong: the handlers cancel it when they leave their pipelines, which ends the cycle.
        let idleDeadline = LazyDeadline(on: eventLoop) { [first, second] in
            onIdle()
            first.partnerClose()
            second.partnerClose()
        }
        idleDeadline.expect(by: eventLoop.now + idleTimeout)
        for side in [first, second] {
            side.idleDeadline = idleDeadline
            side.idleTimeout = idleTimeout
        }
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Whichever side arrives second lets the first one start reading.
        partner?.partnerBecameWritable()
        if partner?.partnerIsWritable ?? false { context.read() } else { readPending = true }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
        idleDeadline?.cancel()
        idleDeadline = nil
    }

    /// Bytes that arrived before the tunnel existed (the HTTP parser's leftovers).
    func forwardToPartner(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        partner?.partnerWrite(bytes)
        partner?.partnerFlush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        idleDeadline?.expect(by: context.eventLoop.now + idleTimeout)
        partner?.partnerWrite(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleDeadline?.cancel()
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
