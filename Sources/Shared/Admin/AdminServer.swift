import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin listener: `/metrics` (Prometheus text format) and `/status` (HTML, or JSON with `?format=json` or
/// `Accept: application/json`), on an address of its own, never on a public listener.
///
/// It runs on its own thread, so a scrape never waits behind traffic and costs the serving event loops nothing.
public final class AdminServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// Samples for the status page's rates, once a second.
    private let ticker: Task<Void, Never>
    /// Where it listens: the bound port when the configuration asked for port 0.
    public let address: BindAddress

    /// Binds `address` and starts serving `pages`. Throws when the address cannot be bound, naming it.
    public init(address: BindAddress, pages: any AdminPages, logger: Logger) async throws {
        let descriptor = try ListeningSocket.open(address, mode: 0o660, backlog: 128)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 128)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(AdminRequestHandler(pages: pages))
                    }
                }
                .withBoundSocket(descriptor).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        self.group = group
        if case .tcp(let host, _) = address, let port = channel.localAddress?.port {
            self.address = .tcp(host: host, port: port)
        } else {
            self.address = address
        }
        let start = NIODeadline.now()
        ticker = Task {
            while !Task.isCancelled {
                await pages.tick(now: Double((NIODeadline.now() - start).nanoseconds) / 1e9)
                try? await Task.sleep(for: .seconds(1))
            }
        }
        logger.info("admin listener on \(self.address) (/metrics, /status)")
    }

    /// Stops listening and ends the admin thread.
    public func stop() async {
        ticker.cancel()
        try? await channel.close()
        try? await group.shutdownGracefully()
        if case .unix(let path) = address { unlink(path) }
    }
}

/// Answers one admin request at a time on a connection.
private final class AdminRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let pages: any AdminPages
    private var head: HTTPRequestHead?

    init(pages: any AdminPages) {
        self.pages = pages
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head = head.take() else { return }
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        // The pages gather their figures from the serving event loops, so they are asked off this loop; the answer
        // is written back here. Requests on a connection are answered one at a time, in order.
        let pages = self.pages
        let answer = context.eventLoop.makeFutureWithTask { await Self.answer(head, pages: pages) }
        answer.assumeIsolated().whenSuccess { [self] answer in
            write(answer, to: head, context: context)
        }
    }

    private static func answer(
        _ head: HTTPRequestHead, pages: any AdminPages
    ) async
        -> (status: HTTPResponseStatus, contentType: String, body: ByteBuffer)
    {
        let (path, query) = split(head.uri)
        switch (head.method, path) {
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", ByteBuffer(bytes: await pages.metrics()))
        case (.GET, "/status"), (.HEAD, "/status"):
            let wantsJSON =
                query.split(separator: "&").contains("format=json")
                || head.headers[canonicalForm: "accept"].contains { $0.hasPrefix("application/json") }
            let report = await pages.status()
            return wantsJSON
                ? (.ok, "application/json", report.json())
                : (.ok, "text/html; charset=utf-8", report.html(title: pages.title))
        case (_, "/metrics"), (_, "/status"):
            return (.methodNotAllowed, "text/plain", ByteBuffer(string: "use GET\n"))
        default:
            return (
                .notFound, "text/plain",
                ByteBuffer(string: "not found: the admin listener serves /metrics and /status\n")
            )
        }
    }

    private func write(
        _ answer: (status: HTTPResponseStatus, contentType: String, body: ByteBuffer), to head: HTTPRequestHead,
        context: ChannelHandlerContext
    ) {
        let (status, contentType, body) = answer
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let channel = context.channel
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { written.whenComplete { _ in channel.close(promise: nil) } }
    }

    private static func split(_ uri: String) -> (path: Substring, query: Substring) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri[...], "") }
        return (uri[..<mark], uri[uri.index(after: mark)...])
    }
}
