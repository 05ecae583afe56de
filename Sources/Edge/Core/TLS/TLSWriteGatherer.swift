import NIOCore

/// Gathers the small writes made between two flushes into one buffer, so TLS seals them into one record instead of
/// one record each, as nginx's `ssl_buffer_size` does.
///
/// The TLS handler turns every write into a record of its own: an HTTP/2 response was four (HEADERS, a DATA frame's
/// header, its payload, the END_STREAM frame), each with its own seal, nonce, tag and 22 bytes on the wire, for a
/// 1 KiB file. A flush's writes now leave as one record per 16 KiB. A flush with a single write passes it on as it
/// is (no copy), and a write of a whole record or more with nothing gathered before it passes too.
final class TLSWriteGatherer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// A TLS record's largest plaintext: what is gathered goes on once it reaches this.
    static let recordSize = 16 * 1024

    /// The writes gathered since the last flush. While it holds one write, it is that write's own buffer.
    private var gathered: ByteBuffer?
    /// Whether `gathered` is a buffer of this handler's (a copy it may append to) rather than a write's own.
    private var gatheredIsOwned = false
    /// Completes the promises of every gathered write: the first one's, with the others cascaded from it.
    private var gatheredPromise: EventLoopPromise<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(let bytes) = unwrapOutboundIn(data) else {
            passGathered(context: context)
            context.write(data, promise: promise)
            return
        }
        guard var gathered else {
            if bytes.readableBytes >= Self.recordSize {
                context.write(data, promise: promise)
            } else {
                self.gathered = bytes
                gatheredIsOwned = false
                gatheredPromise = promise
            }
            return
        }
        self.gathered = nil  // so the append below does not copy the storage again
        if !gatheredIsOwned {
            var copy = context.channel.allocator.buffer(
                capacity: max(gathered.readableBytes + bytes.readableBytes, 2048))
            copy.writeImmutableBuffer(gathered)
            gathered = copy
            gatheredIsOwned = true
        }
        gathered.writeImmutableBuffer(bytes)
        self.gathered = gathered
        if let promise {
            if let gatheredPromise {
                gatheredPromise.futureResult.cascade(to: promise)
            } else {
                gatheredPromise = promise
            }
        }
        if gathered.readableBytes >= Self.recordSize { passGathered(context: context) }
    }

    func flush(context: ChannelHandlerContext) {
        passGathered(context: context)
        context.flush()
    }

    /// Writes that never reached a flush fail, as the channel fails its own unflushed writes when it closes.
    func handlerRemoved(context: ChannelHandlerContext) {
        gathered = nil
        gatheredPromise.take()?.fail(ChannelError.ioOnClosedChannel)
    }

    private func passGathered(context: ChannelHandlerContext) {
        guard let bytes = gathered.take() else { return }
        context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: gatheredPromise.take())
    }
}
