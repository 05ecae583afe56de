import NIOCore

/// Hands the HTTP/2 handler its own copy of each read's plaintext, sized to the bytes, instead of a slice of the TLS
/// handler's 32 KiB read buffer.
///
/// The HTTP/2 frame decoder keeps the last buffer it was given until the next read. A slice keeps the whole TLS
/// read buffer alive, so the TLS handler cannot reuse it and allocates another 32 KiB for the next read: every
/// HTTP/2 connection, idle ones included, held two. With a copy the TLS handler keeps reusing one, and an idle
/// connection holds a few bytes here instead.
final class PlaintextCopy: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        var copy = context.channel.allocator.buffer(capacity: bytes.readableBytes)
        copy.writeImmutableBuffer(bytes)
        context.fireChannelRead(wrapInboundOut(copy))
    }
}
