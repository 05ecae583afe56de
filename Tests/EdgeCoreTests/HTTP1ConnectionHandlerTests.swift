import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Shared
import TestSupport
import Testing

@testable import EdgeCore

/// The connection handler driven through an `EmbeddedChannel` with a fake clock.
@Suite struct HTTP1ConnectionHandlerTests {
    let site = TestDirectory()
    let channel = EmbeddedChannel()
    let readCounter = ReadCounter()
    let settings: ConnectionSettings
    let resources: LoopResources

    init() throws {
        site.write("a.txt", "alpha")
        site.write("b.txt", "bravo")
        var config = EdgeConfig()
        config.routes = [RouteConfig(prefix: "/", dir: site.path)]
        config.limits.maxURILength = ByteSize(bytes: 64)
        config.limits.maxHeaderSize = ByteSize(bytes: 512)
        config.timeouts.header = .seconds(10)
        config.timeouts.keepalive = .seconds(75)
        settings = ConnectionSettings(config: config, logger: Logger(label: "test"))
        resources = LoopResources(
            eventLoop: channel.embeddedEventLoop, files: OpenFileCache(),
            accessLog: AccessLogBuffer(sink: try AccessLogSink(destination: .off), format: .combined))
        try channel.pipeline.syncOperations.addHandler(readCounter)
        try channel.pipeline.syncOperations.addHandler(HTTP1ConnectionHandler(settings: settings, resources: resources))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    private func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    private func written() throws -> String {
        var text = ""
        while let part = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = part { text += String(buffer: buffer) }
        }
        return text
    }

    private func statusLines(_ text: String) -> [String] {
        // Bodies run straight into the next status line, so split on the status-line prefix itself.
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().map {
            "HTTP/1.1 " + $0.components(separatedBy: "\r\n")[0]
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        try send(
            "GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        let text = try written()
        #expect(statusLines(text) == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"])
        let bravo = text.range(of: "bravo")!, alpha = text.range(of: "alpha")!
        #expect(bravo.lowerBound < alpha.lowerBound)
        #expect(channel.isActive)
    }

    @Test func http10KeepAliveIsExplicit() throws {
        try send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try written().contains("Connection: keep-alive\r\n"))
        #expect(channel.isActive)
        try send("GET /a.txt HTTP/1.0\r\n\r\n")
        #expect(try written().contains("Connection: close\r\n"))
        #expect(!channel.isActive)
    }

    @Test func malformedRequestGets400AndClose() throws {
        try? send("GARBAGE\u{1}\r\n\r\n")
        let text = try written()
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(!channel.isActive)
    }

    @Test func limitsAnswer414And431() throws {
        try send("GET /\(String(repeating: "a", count: 100)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try written().hasPrefix("HTTP/1.1 414 URI Too Long\r\n"))
        #expect(!channel.isActive)
    }

    @Test func oversizedHeadGets431() throws {
        try send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 600))\r\n\r\n")
        #expect(try written().hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(!channel.isActive)
    }

    @Test func http11WithoutHostIsRefused() throws {
        try send("GET /a.txt HTTP/1.1\r\n\r\n")
        #expect(try written().hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    @Test func otherMethodsGet405WithAllow() throws {
        try send("DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = try written()
        #expect(text.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(text.contains("Allow: GET, HEAD\r\n"))
        #expect(channel.isActive)
    }

    /// With a body on its way, the 405 goes out with the head alone, and the connection closes rather than read
    /// the body first.
    @Test func a405DoesNotWaitForTheBody() throws {
        try send("POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n\r\nabc")
        let text = try written()
        #expect(text.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(text.contains("Connection: close\r\n"))
    }

    @Test func headSendsHeadersOnly() throws {
        try send("HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = try written()
        #expect(text.contains("Content-Length: 5\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test func slowHeadIsCutOffWith408() throws {
        try send("GET /a.txt HTTP/1.1\r\nHo")
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(try written().hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(!channel.isActive)
    }

    @Test func silentConnectionClosesWithoutResponse() throws {
        channel.embeddedEventLoop.advanceTime(by: .seconds(11))
        #expect(try written() == "")
        #expect(!channel.isActive)
    }

    @Test func idleKeepAliveClosesAfterKeepaliveTimeout() throws {
        try send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try written()
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)  // keep-alive (75 s), not header (10 s), applies between requests
        channel.embeddedEventLoop.advanceTime(by: .seconds(16))
        #expect(try written() == "")
        #expect(!channel.isActive)
    }

    @Test func quiesceClosesIdleConnections() throws {
        try send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try written()
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test func quiesceAnswersTheFirstRequestOfAConnectionJustAccepted() throws {
        // Its request may already be on the way (a stop or an upgrade began as it was accepted).
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        channel.embeddedEventLoop.run()
        #expect(channel.isActive)
        try send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try written()
        #expect(response.hasPrefix("HTTP/1.1 200") && response.contains("Connection: close\r\n"))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test func quiesceLetsTheRequestInFlightFinish() throws {
        try send("GET /a.txt HTTP/1.1\r\nHost: x\r\n")  // head not complete yet
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(channel.isActive)
        try send("\r\n")
        let text = try written()
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.hasSuffix("alpha"))
        #expect(!channel.isActive)
    }
}

extension HTTP1ConnectionHandlerTests {
    @Test func stalledClientIsDroppedAtSendTimeout() throws {
        try send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try written()
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func readsAreHeldWhileTheClientIsNotReading() throws {
        let before = readCounter.reads
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.pipeline.read()
        #expect(readCounter.reads == before)  // held back: the client is not taking our responses
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(readCounter.reads == before + 1)  // issued as soon as it is writable again
        channel.pipeline.read()
        #expect(readCounter.reads == before + 2)
    }
}

extension HTTP1ConnectionHandlerTests {
    /// Every closed connection (and every HTTP/2 stream, which runs the same handler) must free its handler: one kept
    /// alive by a reference cycle grew Edge by about 570 bytes per connection, without bound.
    @Test func aClosedConnectionFreesItsHandler() throws {
        weak var released: HTTP1ConnectionHandler?
        try {
            let channel = EmbeddedChannel()
            let handler = HTTP1ConnectionHandler(settings: settings, resources: resources)
            released = handler
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try channel.writeInbound(ByteBuffer(string: "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"))
            #expect(try channel.readOutbound(as: IOData.self) != nil)
            try channel.close().wait()
            channel.embeddedEventLoop.run()  // NIO takes the handlers out of the pipeline on the next tick
        }()
        #expect(released == nil)
    }
}

/// Counts `read()` calls that reach the front of the pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}
