import NIOCore
import NIOEmbedded
import Testing

@testable import EdgeCore

/// TLS makes one record of every write it gets: the writes between two flushes must reach it as one buffer, in
/// order, with every write's promise kept.
@Suite struct TLSWriteGathererTests {
    /// What reached TLS, flushed or not.
    let tls = WrittenBuffers()
    let channel: EmbeddedChannel

    init() throws {
        channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(tls, TLSWriteGatherer())
    }

    @Test func aFlushsSmallWritesReachTLSAsOneBufferInOrder() throws {
        let promises = (0..<3).map { _ in channel.eventLoop.makePromise(of: Void.self) }
        channel.write(ByteBuffer(string: "HEADERS"), promise: promises[0])
        channel.write(ByteBuffer(string: "|DATA"), promise: nil)
        channel.write(ByteBuffer(string: "|payload"), promise: promises[1])
        channel.write(ByteBuffer(string: "|END"), promise: promises[2])
        #expect(tls.buffers.isEmpty, "passed on before the flush")
        channel.flush()
        #expect(tls.buffers == [ByteBuffer(string: "HEADERS|DATA|payload|END")])
        for promise in promises { try promise.futureResult.wait() }
        _ = try channel.finish()
    }

    @Test func aLoneWriteIsPassedOnAsItIs() throws {
        let bytes = ByteBuffer(string: "one response")
        channel.writeAndFlush(bytes, promise: nil)
        #expect(tls.buffers == [bytes])
        #expect(tls.buffers.map(address(of:)) == [address(of: bytes)], "copied")
        _ = try channel.finish()
    }

    /// Gathering stops at a record's size, and a write of a record or more with nothing before it is not copied.
    @Test func largeWritesAreNotHeldOrCopied() throws {
        let record = TLSWriteGatherer.recordSize
        let large = ByteBuffer(repeating: 1, count: record + 100)
        channel.write(large, promise: nil)
        #expect(tls.buffers.map(address(of:)) == [address(of: large)], "a large write was held or copied")

        channel.write(ByteBuffer(repeating: 2, count: 9), promise: nil)
        channel.write(ByteBuffer(repeating: 3, count: record), promise: nil)
        channel.write(ByteBuffer(repeating: 4, count: 5), promise: nil)
        #expect(tls.buffers.dropFirst().map(\.readableBytes) == [record + 9], "a full record was held")
        channel.flush()
        #expect(tls.buffers.last == ByteBuffer(repeating: 4, count: 5))
        _ = try channel.finish()
    }

    /// Writes that never reach a flush fail when the connection goes, as the channel's own unflushed writes do.
    @Test func unflushedWritesFailWhenTheConnectionCloses() throws {
        let first = channel.eventLoop.makePromise(of: Void.self)
        let second = channel.eventLoop.makePromise(of: Void.self)
        channel.write(ByteBuffer(string: "a"), promise: first)
        channel.write(ByteBuffer(string: "b"), promise: second)
        _ = try? channel.finish()
        #expect(throws: (any Error).self) { try first.futureResult.wait() }
        #expect(throws: (any Error).self) { try second.futureResult.wait() }
    }

    private func address(of buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }
}

/// Keeps every buffer written through it, before any flush.
final class WrittenBuffers: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    private(set) var buffers: [ByteBuffer] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        buffers.append(unwrapOutboundIn(data))
        context.write(data, promise: promise)
    }
}
