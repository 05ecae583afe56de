import HTTPTypes
import Logging
import NIOCore
import Shared

/// Serves one client connection of a worker: parses requests, runs the app for each (one at a time, pipelined
/// requests wait their turn), streams bodies both ways with back-pressure, keeps the connection alive between
/// requests and closes it gracefully when the worker stops.
final class AppConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The exchange in progress.
    ///
    /// A class: it is read and changed by every response call, and as a struct inside `phase` each of those copied
    /// it out and back (a retain and release per field), which showed in the worker's profile.
    final class Exchange {
        /// Identifies the exchange a writer belongs to, so a finished app's late calls never touch the next one.
        let id: UInt64
        let head: RequestHead
        var source: RequestBody.Producer.Source?
        var bodyDone: Bool
        var headWritten = false
        var responseDone = false
        var keepAlive: Bool
        var encoder = ResponseEncoder()
        /// For the access log.
        let start: NIODeadline
        let client: String
        var status = 0
        var bodyBytes = 0

        init(
            id: UInt64, head: RequestHead, source: RequestBody.Producer.Source?, keepAlive: Bool, start: NIODeadline,
            client: String
        ) {
            self.id = id
            self.head = head
            self.source = source
            self.bodyDone = source == nil
            self.keepAlive = keepAlive
            self.start = start
            self.client = client
        }
    }

    enum Phase {
        case idle
        case exchange(Exchange)
        case closing
    }

    private let worker: WorkerContext
    private let dates = DateCache()
    private var parser: HTTP1RequestParser
    private var phase: Phase = .idle
    /// Set while the handler is in a pipeline and cleared when it leaves: the context holds this handler, so keeping
    /// it afterwards would keep both (and the connection's state) alive forever. Calls arriving from the app after
    /// the connection closed find it gone.
    private var context: ChannelHandlerContext!
    private var peer: PeerIdentity = .ip("-")
    private var quiescing = false
    private var readPaused = false
    private var readPending = false
    private var idleTimer: Scheduled<Void>?
    private var idleSince = NIODeadline.uptimeNanoseconds(0)
    private var exchangeCount: UInt64 = 0
    private var executor: EventLoopTaskExecutor!
    /// Runs the app for this connection's exchanges, one after another.
    private var runner: ExchangeRunner?
    /// This loop's access log buffer, looked up once per connection rather than per request.
    private(set) var accessLog: AccessLogBuffer?
    /// This loop's request counts on the status board (with the admin listener on).
    private var requestStats: WorkerRequestStats.Slot?
    /// The longest request id the access log keeps (Edge's are 32 characters).
    private static let maxLoggedRequestID = 128
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    /// On a graceful stop an idle connection is closed only once it has been idle this long: a client may have sent
    /// its next request already, and closing under it would fail that request (the keep-alive race).
    /// One second covers a client thread descheduled between two requests on a busy host; the cost is that a
    /// stopping worker lingers up to a second after its last request.
    static var quietPeriod: TimeAmount { .seconds(1) }

    init(worker: WorkerContext) {
        self.worker = worker
        self.parser = HTTP1RequestParser(limits: worker.limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.executor = EventLoopTaskExecutor(eventLoop: context.eventLoop)
        self.accessLog = worker.accessLogs.forLoop(context.eventLoop)
        self.requestStats = worker.requestStats?.forLoop(context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        // A connection accepted just as the worker began stopping has a request on its way: it counts as active.
        lastActivity = context.eventLoop.now
        identifyPeer(context.channel)
        armIdleTimer()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        if case .exchange(let exchange) = phase {
            if !exchange.bodyDone { exchange.source?.finish(ConnectionClosed()) }
            if !exchange.responseDone { requestStats?.requestAbandoned() }
        }
        phase = .closing
        runner?.close()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = context.eventLoop.now
        parser.append(unwrapInboundIn(data))
        processEvents()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if readPaused {
            readPending = true
            return
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        quiescing = true
        closeIfQuietlyIdle()
    }

    /// Closes the connection once it is idle and has been quiet for `quietPeriod`; busy connections close after
    /// their current response (which says `Connection: close`).
    private func closeIfQuietlyIdle() {
        guard case .idle = phase else { return }
        let quietFor = context.eventLoop.now - lastActivity
        if !parser.hasPartialHead && quietFor >= Self.quietPeriod {
            closeAfterWrites()
            return
        }
        context.eventLoop.assumeIsolated().scheduleTask(
            in: Self.quietPeriod - min(quietFor, Self.quietPeriod) + .milliseconds(1)
        ) {
            self.closeIfQuietlyIdle()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: - Requests

    func processEvents() {
        while true {
            switch phase {
            case .closing:
                return
            case .exchange(let exchange) where exchange.bodyDone:
                return  // the next pipelined request waits for this response
            default:
                break
            }
            let event: HTTP1RequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                refuse(error)
                return
            }
            guard let event else { return }
            switch event {
            case .head(let head):
                start(head)
            case .body(let bytes):
                deliver(bytes)
            case .end:
                guard case .exchange(let exchange) = phase else { continue }
                exchange.bodyDone = true
                exchange.source?.finish()
                exchange.source = nil
                if exchange.responseDone { completeExchange() }
            }
        }
    }

    private func start(_ head: RequestHead) {
        let (request, client, scheme) = ParsedRequestConverter.convert(head, peer: peer, policy: worker.forwarded)

        var source: RequestBody.Producer.Source?
        var body = RequestBody.empty
        if head.bodyFraming != .none && head.bodyFraming != .length(0) {
            let loop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: loop)
            let delegate = BodyReadDelegate(
                produceMoreHandler: { loop.execute { bound.value.resumeReading() } },
                terminateHandler: {})
            let made = RequestBody.Producer.makeSequence(
                elementType: ByteBuffer.self, failureType: (any Error).self,
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: false,
                delegate: delegate)
            source = made.source
            body = RequestBody(producer: made.sequence)
        }
        let keepAlive = head.keepAlive && !quiescing
        exchangeCount += 1
        let exchangeID = exchangeCount
        phase = .exchange(
            Exchange(
                id: exchangeID, head: head, source: source, keepAlive: keepAlive, start: context.eventLoop.now,
                client: client))
        worker.board?.recordRequest(head)
        requestStats?.requestStarted()
        // Debug level: the message is built only when enabled, so the request path pays one level check.
        worker.logger.debug(
            "request started", metadata: ["method": "\(head.method.rawValue)", "path": "\(head.target)"])
        worker.requests.increment()

        let appRequest = AppRequest(lazyHead: request, clientAddress: client, scheme: scheme, body: body)
        let writer = ChannelResponseWriter(
            handler: NIOLoopBound(self, eventLoop: context.eventLoop), eventLoop: context.eventLoop,
            exchangeID: exchangeID)
        // The connection's task starts with its first request, so a connection that never sends one costs none.
        let runner = runner ?? ExchangeRunner(app: worker.app, logger: worker.logger, executor: executor)
        self.runner = runner
        runner.submit(.init(request: appRequest, writer: writer))
    }

    private func deliver(_ bytes: ByteBuffer) {
        guard case .exchange(let exchange) = phase, let source = exchange.source else { return }  // discarded
        switch source.yield(bytes) {
        case .stopProducing: readPaused = true
        case .produceMore, .dropped: break
        }
    }

    func resumeReading() {
        guard readPaused, context != nil else { return }
        readPaused = false
        if readPending {
            readPending = false
            context.read()
        }
    }

    private func refuse(_ error: HTTP1ParseError) {
        worker.logger.info("malformed request", metadata: ["client": "\(peer)", "error": "\(error)"])
        if case .exchange(let exchange) = phase {
            exchange.source?.finish(error)
            if exchange.headWritten {
                phase = .closing
                context.close(promise: nil)
                return
            }
        }
        let status = error.status
        let text = "\(status.code) \(status.reason)\n"
        var buffer = context.channel.allocator.buffer(capacity: 256)
        buffer.writeString(
            "HTTP/1.1 \(status.code) \(status.reason)\r\nServer: appserver\r\nContent-Type: text/plain\r\n")
        buffer.writeString("Content-Length: \(text.utf8.count)\r\nConnection: close\r\n")
        buffer.writeImmutableBuffer(dates.dateHeaderLine())
        buffer.writeString("\r\n\(text)")
        context.write(wrapOutboundOut(buffer), promise: nil)
        closeAfterWrites()
    }

    func completeExchange() {
        guard case .exchange(let exchange) = phase else { return }
        lastActivity = context.eventLoop.now
        if exchange.keepAlive && !quiescing {
            phase = .idle
            armIdleTimer()
            processEvents()
        } else {
            closeAfterWrites()
        }
    }

    func closeAfterWrites() {
        phase = .closing
        idleTimer?.cancel()
        let context = self.context!
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated()
            .whenComplete { _ in
                context.close(promise: nil)
            }
    }

    /// The connection just became idle: it closes after `keepalive` without a request.
    ///
    /// Checked lazily: the one scheduled check is moved only when it fires, so a busy keep-alive connection does
    /// not schedule and cancel a task for every request (that showed in the profile).
    private func armIdleTimer() {
        idleSince = context.eventLoop.now
        guard idleTimer == nil else { return }
        scheduleIdleCheck(at: idleSince + worker.keepalive)
    }

    private func scheduleIdleCheck(at deadline: NIODeadline) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            idleTimer = nil
            // Busy now: `completeExchange` arms the check again when the exchange ends.
            guard case .idle = phase else { return }
            let due = idleSince + worker.keepalive
            if due <= context.eventLoop.now {
                closeAfterWrites()
            } else {
                scheduleIdleCheck(at: due)
            }
        }
    }

    private func identifyPeer(_ channel: any Channel) {
        switch channel.remoteAddress {
        case .some(.v4(let address)): peer = .ip(address.host)
        case .some(.v6(let address)): peer = .ip(address.host)
        default:
            peer = .unix(uid: nil)
            guard let provider = channel as? SocketOptionProvider else { return }
            let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(1 /* SOL_SOCKET */), name: 17 /* SO_PEERCRED */)
            // On the channel's own loop this completes at once, before any request is read.
            credentials.assumeIsolated().whenSuccess { self.peer = .unix(uid: $0.uid) }
        }
    }
}

// MARK: - Responses

/// Writing responses: called on the connection's event loop by `ChannelResponseWriter`, each call naming the
/// exchange it belongs to so a finished app's late calls never touch the next exchange.
extension AppConnectionHandler {
    /// The exchange `id` if it is the current one.
    private func current(_ id: UInt64) -> Exchange? {
        if case .exchange(let exchange) = phase, exchange.id == id { return exchange }
        return nil
    }

    /// Closing or closed: checked before anything touches `context`, which is gone once the handler has left the
    /// pipeline (`phase` turns `.closing` before that, in `channelInactive`).
    private var isClosed: Bool {
        if case .closing = phase { return true }
        return context == nil
    }

    func writeHead(_ response: HTTPResponse, exchange id: UInt64) throws {
        if isClosed { throw ConnectionClosed() }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        try encodeHead(response, exchange: id, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func encodeHead(
        _ response: HTTPResponse, exchange id: UInt64, bodyLength: Int? = nil, into buffer: inout ByteBuffer
    ) throws {
        // Its callers checked `isClosed` before touching `context`.
        guard let exchange = current(id), !exchange.headWritten else { throw ResponseStateError() }
        exchange.keepAlive = exchange.keepAlive && !quiescing
        exchange.status = exchange.encoder.encodeHead(
            response, isHead: exchange.head.method.isHEAD, minorVersion: exchange.head.minorVersion,
            keepAlive: &exchange.keepAlive, date: dates.dateHeaderLine(), bodyLength: bodyLength, into: &buffer)
        exchange.headWritten = true
    }

    /// A whole response in one buffer and one write: the common case of a small body.
    func writeWhole(_ response: HTTPResponse, body: ByteBuffer, exchange id: UInt64) throws {
        if isClosed { throw ConnectionClosed() }
        var buffer = context.channel.allocator.buffer(capacity: 256 + body.readableBytes)
        try encodeHead(response, exchange: id, bodyLength: body.readableBytes, into: &buffer)
        guard let exchange = current(id) else { throw ResponseStateError() }
        encode(body, of: exchange, into: &buffer)
        exchange.encoder.encodeEnd(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        markFinished(exchange)
    }

    /// Encodes a body piece and counts it; bytes past the response's `Content-Length` are dropped and logged.
    @inline(__always)
    private func encode(_ body: ByteBuffer, of exchange: Exchange, into buffer: inout ByteBuffer) {
        let dropped = exchange.encoder.encodeBody(body, into: &buffer)
        exchange.bodyBytes += body.readableBytes - dropped
        if dropped > 0 { reportDropped(dropped, of: exchange) }
    }

    // The two reports below stay out of line: the request path only pays for checking that they are not needed.

    @inline(never)
    private func reportDropped(_ dropped: Int, of exchange: Exchange) {
        worker.logger.warning(
            "the app wrote more than its response's Content-Length; the rest was dropped",
            metadata: [
                "path": "\(exchange.head.target)", "status": "\(exchange.status)", "dropped_bytes": "\(dropped)",
            ])
    }

    /// The client is still owed bytes it will never get; only closing tells it the response ended short.
    @inline(never)
    private func endShort(_ exchange: Exchange) {
        worker.logger.error(
            "the app ended its response short of its Content-Length; closing the connection",
            metadata: [
                "path": "\(exchange.head.target)", "status": "\(exchange.status)",
                "missing_bytes": "\(exchange.encoder.shortfall)",
            ])
        exchange.keepAlive = false
    }

    /// Writes and flushes a body piece; the future completes when the client is keeping up.
    func writeBody(_ body: ByteBuffer, exchange id: UInt64) throws -> EventLoopFuture<Void> {
        if isClosed { throw ConnectionClosed() }
        guard let exchange = current(id), exchange.headWritten, !exchange.responseDone else {
            throw ResponseStateError()
        }
        var buffer = context.channel.allocator.buffer(capacity: body.readableBytes + 16)
        encode(body, of: exchange, into: &buffer)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
        return context.channel.isWritable ? context.eventLoop.makeSucceededVoidFuture() : promise.futureResult
    }

    func finish(exchange id: UInt64) throws {
        if isClosed { throw ConnectionClosed() }
        guard let exchange = current(id), exchange.headWritten, !exchange.responseDone else {
            throw ResponseStateError()
        }
        var buffer = context.channel.allocator.buffer(capacity: 8)
        exchange.encoder.encodeEnd(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        markFinished(exchange)
    }

    private func markFinished(_ exchange: Exchange) {
        exchange.responseDone = true
        if exchange.encoder.shortfall > 0 { endShort(exchange) }
        worker.board?.recordIdle()
        requestStats?.requestFinished(
            status: exchange.status, nanoseconds: (context.eventLoop.now - exchange.start).nanoseconds)
        logAccess(exchange)
        if exchange.bodyDone {
            completeExchange()
        } else {
            processEvents()  // the app did not read the whole body: read and drop the rest
        }
    }

    func isResponseDone(exchange id: UInt64) -> Bool {
        current(id)?.responseDone ?? true
    }

    func isHeadWritten(exchange id: UInt64) -> Bool {
        current(id)?.headWritten ?? false
    }

    /// The app failed: a 500 if nothing was sent yet, otherwise the connection is cut (the client sees a
    /// truncated response rather than a wrong one).
    func fail(exchange id: UInt64) {
        guard let exchange = current(id), !exchange.responseDone else { return }
        if exchange.headWritten {
            phase = .closing
            context.close(promise: nil)
            return
        }
        var response = HTTPResponse(status: .internalServerError)
        response.headerFields[.contentType] = "text/plain"
        response.headerFields[.contentLength] = "26"
        try? writeHead(response, exchange: id)
        _ = try? writeBody(ByteBuffer(string: "500 Internal Server Error\n"), exchange: id)
        try? finish(exchange: id)
    }

    private func logAccess(_ exchange: Exchange) {
        guard let log = accessLog, log.isEnabled else { return }
        let head = exchange.head
        var entry = AccessLogEntry(
            remoteAddress: exchange.client, time: dates.accessLogTime(), method: head.method.rawValue,
            uri: head.target,
            version: head.versionText, status: exchange.status, bodyBytesSent: exchange.bodyBytes,
            referer: head.headers.first("referer"), userAgent: head.headers.first("user-agent"),
            requestTime: Double((context.eventLoop.now - exchange.start).nanoseconds) / 1e9)
        // The id Edge gave the request (or an upstream proxy did), so the two access logs join on it; cut to a
        // sane length, as a client talking to AppServer directly could send anything.
        entry.requestID = head.headers.first("x-request-id").map { String($0.prefix(Self.maxLoggedRequestID)) }
        entry.traceID = head.headers.first("traceparent").flatMap(TraceParent.traceID(of:))
        log.append(entry)
    }
}
