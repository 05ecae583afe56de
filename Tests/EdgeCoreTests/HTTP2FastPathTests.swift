import Logging
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Shared
import TestSupport
import Testing

@testable import EdgeCore

/// Which HTTP/2 requests the connection answers itself, from frames: a request without a body whose answer is in
/// memory. (Proxied requests without a body, also carried on the connection, need an upstream: the end-to-end
/// tests cover them.) Every other frame goes on, untouched, to the stream multiplexer (here `passedOn`), and a request that
/// goes on leaves no count behind in the metrics, since its stream channel counts it.
@Suite struct HTTP2FastPathTests {
    let site = TestDirectory()
    let channel = EmbeddedChannel()
    let passedOn = PassedOnFrames()
    let metrics = LoopMetrics()
    let streams = HTTP2StreamTracker(gauge: nil)
    let settings: ConnectionSettings
    let resources: LoopResources

    init() throws {
        site.write("site/small.txt", "small")
        site.write("site/large.bin", String(repeating: "x", count: 200 * 1024))
        let file = site.write(
            "edge.yaml",
            """
            upstreams: {app: {servers: ["unix:\(site.path)/app.sock"]}}
            routes:
              - {prefix: /site/, dir: \(site.path)/site}
              - {prefix: /limited/, dir: \(site.path)/site, rate_limit: {rate: 10/s}}
              - {prefix: /, upstream: app}
            """)
        settings = ConnectionSettings(config: try EdgeConfig.load(from: file).config, logger: Logger(label: "test"))
        resources = LoopResources(
            eventLoop: channel.embeddedEventLoop, files: OpenFileCache(metrics: metrics),
            accessLog: AccessLogBuffer(sink: try AccessLogSink(destination: .off), format: .combined),
            metrics: metrics)
        try channel.pipeline.syncOperations.addHandlers(
            HTTP2FastPath(settings: settings, resources: resources, listener: .plain, streams: streams), passedOn)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    private func request(
        _ path: String, method: String = "GET", stream: Int = 1, endStream: Bool = true
    ) throws -> [HTTP2Frame] {
        let fields: HPACKHeaders = [
            ":method": method, ":scheme": "https", ":path": path, ":authority": "localhost",
        ]
        try channel.writeInbound(
            HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .headers(.init(headers: fields, endStream: endStream)))
        )
        channel.pipeline.fireChannelReadComplete()
        var written: [HTTP2Frame] = []
        while let frame = try channel.readOutbound(as: HTTP2Frame.self) { written.append(frame) }
        return written
    }

    @Test func aCachedFileIsAnsweredOnTheConnection() throws {
        let frames = try request("/site/small.txt")
        #expect(passedOn.frames.isEmpty)
        guard frames.count == 2, case .headers(let headers) = frames[0].payload,
            case .data(let data) = frames[1].payload,
            case .byteBuffer(let body) = data.data
        else {
            Issue.record("not HEADERS then DATA: \(frames)")
            return
        }
        #expect(headers.headers.first(name: ":status") == "200" && !headers.endStream)
        #expect(headers.headers.first(name: "content-length") == "5")
        #expect(headers.headers.first(name: "date") != nil)
        #expect(String(buffer: body) == "small" && data.endStream)

        // A HEAD, a missing file and a refused method are answered here too: nothing of theirs is on disk.
        let head = try request("/site/small.txt", method: "HEAD", stream: 3)
        #expect(head.count == 1 && passedOn.frames.isEmpty, "\(head)")
        let missing = try request("/site/missing.txt", stream: 5)
        if case .headers(let fields)? = missing.first?.payload {
            #expect(fields.headers.first(name: ":status") == "404")
        } else {
            Issue.record("no 404: \(missing)")
        }
    }

    @Test(arguments: [
        ("/app/page", "POST", false),  // proxied with a body, which streams
        ("/site/small.txt", "GET", false),  // a body follows
        ("/limited/small.txt", "GET", true),  // a rate limit may make it wait
        ("/site/large.bin", "GET", true),  // sent from disk, by the stream channel
    ])
    func otherRequestsGoOnUntouchedAndUncounted(path: String, method: String, endStream: Bool) throws {
        let before = metrics.lookupCounts
        let written = try request(path, method: method, endStream: endStream)
        #expect(written.isEmpty, "\(written)")
        #expect(passedOn.frames.count == 1 && passedOn.frames.first?.streamID == 1)
        #expect(metrics.lookupCounts == before, "a request passed on was counted here")
    }

    /// A cached file's HTTP/2 response is made once and kept with the file, for the connections of every listener:
    /// one with HSTS must not get a response kept for one without, nor the other way round.
    @Test func aKeptResponseServesOnlyTheListenerItWasMadeFor() throws {
        #expect(try hsts(of: request("/site/small.txt")) == nil)
        #expect(try hsts(of: request("/site/small.txt", stream: 3)) == nil)
        var secure = ListenerRole()
        secure.hstsHeaderLine = ByteBuffer(string: "Strict-Transport-Security: max-age=60\r\n")
        let other = EmbeddedChannel()
        try other.pipeline.syncOperations.addHandler(
            HTTP2FastPath(settings: settings, resources: resources, listener: secure, streams: streams))
        let fields: HPACKHeaders = [
            ":method": "GET", ":scheme": "https", ":path": "/site/small.txt", ":authority": "x",
        ]
        try other.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: fields, endStream: true))))
        other.pipeline.fireChannelReadComplete()
        #expect(try hsts(of: [try #require(try other.readOutbound(as: HTTP2Frame.self))]) == "max-age=60")
        #expect(try hsts(of: request("/site/small.txt", stream: 5)) == nil)
        _ = try other.finish(acceptAlreadyClosed: true)
    }

    private func hsts(of frames: [HTTP2Frame]) throws -> String? {
        guard case .headers(let headers)? = frames.first?.payload else { throw HTTP2FastPathTestError.noHeaders }
        return headers.headers.first(name: "strict-transport-security")
    }

    @Test func framesForAStreamAnsweredHereStayHere() throws {
        _ = try request("/site/small.txt")
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .rstStream(.cancel)))
        #expect(passedOn.frames.isEmpty)
        try channel.writeInbound(HTTP2Frame(streamID: 3, payload: .rstStream(.cancel)))
        #expect(passedOn.frames.map(\.streamID) == [3])
    }
}

enum HTTP2FastPathTestError: Error { case noHeaders }

/// The frames that reached the handler behind the fast path.
final class PassedOnFrames: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    private(set) var frames: [HTTP2Frame] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frames.append(unwrapInboundIn(data))
    }
}
