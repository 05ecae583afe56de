import NIOCore
import NIOEmbedded
import Testing

@testable import EdgeCore

/// The HTTP/2 handler must never hold a slice of the TLS handler's read buffer (which would make the TLS handler
/// allocate a second one for every connection): what it gets is a buffer of its own, sized to the bytes.
@Suite struct PlaintextCopyTests {
    @Test func theNextHandlerGetsItsOwnBufferSizedToTheBytes() throws {
        let channel = EmbeddedChannel(handler: PlaintextCopy())
        var tlsReadBuffer = ByteBufferAllocator().buffer(capacity: 32 * 1024)
        tlsReadBuffer.writeString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        let read = tlsReadBuffer.getSlice(at: 0, length: tlsReadBuffer.readableBytes)!
        try channel.writeInbound(read)
        let passed = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(passed == read)
        #expect(passed.capacity <= 2 * read.readableBytes, "\(passed.capacity)")
        let passedAddress = passed.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let readAddress = tlsReadBuffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(passedAddress != readAddress)
        _ = try channel.finish()
    }
}
