import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP2
import Shared
import Testing

@testable import EdgeCore

/// The handler that ends an HTTP/2 connection after an error GOAWAY, between a fake socket (`EmbeddedChannel`) and a
/// stand-in for the HTTP/2 handler that records what still reaches it.
@Suite struct HTTP2ErrorCloseHandlerTests {
    let channel = EmbeddedChannel()
    let streams = HTTP2StreamTracker(gauge: nil)
    let received = Received()
    let readsAsked = ReadCounter()
    let logs = CapturedLogs()

    init() throws {
        let resources = LoopResources(
            eventLoop: channel.embeddedEventLoop, files: OpenFileCache(),
            accessLog: AccessLogBuffer(sink: try AccessLogSink(destination: .off), format: .combined))
        let logs = self.logs
        let logger = Logger(label: "test") { _ in CapturingLogHandler(logs) }
        try channel.pipeline.syncOperations.addHandlers(
            readsAsked,
            HTTP2ErrorCloseHandler(streams: streams, resources: resources, logger: logger), received)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: 443)).wait()
    }

    @Test func afterAnErrorGoAwayNothingIsReadOrWrittenAndTheConnectionCloses() throws {
        for id in [1, 5] { streams.streamCreated(HTTP2StreamID(id)) }
        try channel.writeInbound(ByteBuffer(string: "before"))
        #expect(received.reads == ["before"])

        // As swift-nio-http2 does: the GOAWAY (naming stream 2^31-1), then the error, then the flush. The GOAWAY that
        // leaves names stream 5, the highest processed.
        let goAway = HTTP2FrameBoundariesTests.goAway(lastStreamID: 0x7fff_ffff, errorCode: 1)
        channel.write(ByteBuffer(bytes: goAway), promise: nil)
        channel.pipeline.triggerUserOutboundEvent(
            HTTP2ConnectionErrorReport(reason: "ExcessivelyLargeHeaderBlock"), promise: nil)
        channel.flush()
        let sent = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(sent.getInteger(at: 9, as: UInt32.self) == 5)
        #expect(sent.getInteger(at: 13, as: UInt32.self) == 1)

        // What the client sends next is dropped, no read is asked for, and nothing else is written.
        try channel.writeInbound(ByteBuffer(string: "after"))
        #expect(received.reads == ["before"])
        let readsBefore = readsAsked.reads
        received.context!.read()
        #expect(readsAsked.reads == readsBefore)
        #expect(throws: ChannelError.outputClosed) { try channel.writeOutbound(ByteBuffer(string: "more")) }

        // Closed at the deadline at the latest, and logged once with the client, the code and the reason.
        channel.embeddedEventLoop.advanceTime(by: HTTP2ErrorCloseHandler.closeDeadline)
        #expect(!channel.isActive)
        #expect(
            logs.lines == [
                "warning HTTP/2 connection closed for a protocol error client=192.0.2.7 code=PROTOCOL_ERROR "
                    + "reason=ExcessivelyLargeHeaderBlock"
            ])
    }

    @Test func aGracefulGoAwayLeavesTheConnectionAlone() throws {
        try channel.writeOutbound(ByteBuffer(bytes: HTTP2FrameBoundariesTests.goAway(lastStreamID: 3, errorCode: 0)))
        #expect(try channel.readOutbound(as: ByteBuffer.self)?.getInteger(at: 9, as: UInt32.self) == 3)
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        try channel.writeInbound(ByteBuffer(string: "still read"))
        #expect(received.reads == ["still read"])
        #expect(channel.isActive)
        #expect(logs.lines.isEmpty)
    }
}

/// Stands where the HTTP/2 handler would: records the reads that reach it.
final class Received: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private(set) var reads: [String] = []
    private(set) var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reads.append(String(buffer: unwrapInboundIn(data)))
    }
}

final class CapturedLogs: Sendable {
    private let box = NIOLockedValueBox<[String]>([])
    var lines: [String] { box.withLockedValue { $0 } }
    func append(_ line: String) { box.withLockedValue { $0.append(line) } }
}

/// Keeps each message as `level message key=value ...`, keys sorted, as the line handler writes them.
struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    init(_ logs: CapturedLogs) { self.logs = logs }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        logs.append(([String(describing: event.level), "\(event.message)"] + fields).joined(separator: " "))
    }
}
