import NIOCore
import NIOHPACK
import NIOHTTP2
import Shared

/// Carries on the HTTP/2 connection itself the requests without a body that need no stream channel: those whose
/// answer is in memory (a cached file, a redirect, a refusal, one of Edge's own errors), answered within the read
/// that brought them, and proxied ones, each an `HTTP2ProxiedStream` until its response has been written. Frames in,
/// frames out.
///
/// Every other request (with a body, on a route with a `rate_limit`, with a file to send from disk, or malformed)
/// goes on to the stream multiplexer behind, which gives it a stream channel of its own with `HTTP2StreamBridge` and
/// `HTTP1ConnectionHandler`. A stream channel, its pipeline and the HTTP/1 text between them were 60 % of a small
/// file's instructions over HTTP/2.
///
/// Both ways build the same request head (from the same HTTP/1 translation), ask the same responder or proxy, and
/// write the same fields, access log line and metrics.
final class HTTP2FastPath: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let settings: ConnectionSettings
    private let resources: LoopResources
    private let listener: ListenerRole
    private let recorder: ResponseRecorder
    private let streams: HTTP2StreamTracker
    private var peer = ConnectionPeer()
    /// A stream carried here, from its request until the HTTP/2 handler closes it. What else the client sends on it
    /// (a reset, a window update) is not passed on.
    private struct CarriedStream {
        /// A proxied request whose response is still coming.
        var proxy: HTTP2ProxiedStream?
        /// When the response's last frame, written but held back by the client's window, must have left:
        /// `distantFuture` until the loop tick after the flush, when one still unwritten is given `timeouts.send`;
        /// `nil` once it has left. Without a deadline a client that keeps a stream's window shut would hold its
        /// response for ever.
        var sendDeadline: NIODeadline?
    }

    /// One map for every stream carried here: each request costs a few lookups of it, where three maps cost nine.
    private var carried: [HTTP2StreamID: CarriedStream] = [:]
    private var waitCheck: Scheduled<Void>?
    private var tickCheckScheduled = false
    private var needsFlush = false
    /// Kept for the proxied streams, whose responses arrive outside the connection's reads.
    private var context: ChannelHandlerContext?
    /// Within a read burst, whose end flushes.
    private var reading = false
    private var flushScheduled = false

    init(settings: ConnectionSettings, resources: LoopResources, listener: ListenerRole, streams: HTTP2StreamTracker) {
        self.settings = settings
        self.streams = streams
        self.resources = resources
        self.listener = listener
        self.recorder = ResponseRecorder(
            resources: resources, transport: .http2Stream, settings: settings, listenerID: listener.metricsID)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        peer.opened(context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        waitCheck?.cancel()
        clientLeftEveryProxiedStream(now: context.eventLoop.now)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientLeftEveryProxiedStream(now: context.eventLoop.now)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        let frame = unwrapInboundIn(data)
        if !carried.isEmpty, carried[frame.streamID] != nil { return }
        guard case .headers(let headers) = frame.payload, headers.endStream, frame.streamID != .rootStream,
            let path = headers.headers.first(name: ":path"), let way = way(for: path),
            let head = requestHead(headers.headers)
        else {
            context.fireChannelRead(data)
            return
        }
        let start = recorder.needsTime || way != .answer ? context.eventLoop.now : .uptimeNanoseconds(0)
        let facts = RequestHeaderFacts(head.headers, forLogging: resources.accessLog.isEnabled)
        let response: Response
        if let refused = admissionRefusal(of: head) {
            response = refused
        } else if case .proxy(let upstream) = way {
            guard let pool = resources.upstreams else {
                context.fireChannelRead(data)
                return
            }
            startProxy(head, facts: facts, upstream: upstream, pool: pool, on: frame.streamID, start: start)
            return
        } else if let fromMemory = SiteResponder.respondFromMemory(
            to: head, facts: facts, settings: settings, resources: resources, allocator: context.channel.allocator,
            peer: peer.address)
        {
            response = fromMemory
        } else {
            context.fireChannelRead(data)
            return
        }
        write(response, on: frame.streamID, to: head, facts: facts, start: start, context: context)
    }

    /// Stream events: every stream's opening and closing is told to the tracker; those of streams carried here stop
    /// here, since the stream multiplexer behind has nothing of theirs. Told apart by type, not by trying casts:
    /// each failed cast of an `Any` costs hundreds of instructions, and every handler used to try several per event.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        let kind = type(of: event)
        if kind == StreamClosedEvent.self {
            let id = (event as! StreamClosedEvent).streamID
            streams.streamClosed(id)
            if !carried.isEmpty, let gone = carried.removeValue(forKey: id) {
                // A proxied stream closed before its response was written: the client reset it.
                if let stream = gone.proxy { clientLeft(stream, now: context.eventLoop.now) }
                return
            }
        } else if kind == NIOHTTP2StreamCreatedEvent.self {
            // Passed on: a stream channel takes its flow-control windows from it.
            streams.streamCreated((event as! NIOHTTP2StreamCreatedEvent).streamID)
        } else if kind == NIOHTTP2WindowUpdatedEvent.self, !carried.isEmpty,
            carried[(event as! NIOHTTP2WindowUpdatedEvent).streamID] != nil
        {
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            for case let stream? in carried.values.map(\.proxy) { stream.connectionBecameWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Which requests

    /// The request's head as the HTTP/1 side would read it: the same translation and parser, so both ways agree on
    /// what is valid. `nil` for a malformed request, one over the size limits, or one that announces a body: the
    /// stream channel's way answers those.
    private func requestHead(_ fields: HPACKHeaders) -> RequestHead? {
        guard let request = HTTP2RequestTranslation.http1Request(from: fields, hasBody: false) else { return nil }
        var parser = HTTP1RequestParser(
            limits: .init(maxURILength: settings.maxURILength, maxHeaderSize: settings.maxHeaderSize))
        parser.append(request.bytes)
        guard case .head(let head)? = try? parser.next(), head.bodyFraming == .none else { return nil }
        return head
    }

    private enum Way: Equatable {
        /// Answered from memory if its answer is there, else passed on.
        case answer
        case proxy(upstream: String)
    }

    /// How a request is carried here, by its `:path` (which becomes the HTTP/1 target unchanged); `nil` for a route
    /// with a `rate_limit` (whose wait holds the stream), which goes on. Asked before anything is translated, so a
    /// request that goes on costs nothing here.
    private func way(for path: String) -> Way? {
        let site = settings.site
        if site.hasRateLimits && site.rateLimit(for: path) != nil { return nil }
        guard listener.httpsRedirect == nil, let upstream = site.upstream(for: path) else { return .answer }
        return .proxy(upstream: upstream)
    }

    private func admissionRefusal(of head: RequestHead) -> Response? {
        let client = settings.site.hasAccessRules ? peer.clientAddress(of: head, realIP: settings.realIP) : nil
        return RequestAdmission.refusal(of: head, settings: settings, peer: peer.address, client: client)
    }

    // MARK: - Writing

    /// Writes `response` for the request on `stream` (an `error_pages` page in place of Edge's own short body), with
    /// its log line (naming the upstream for a proxied request that failed before its response began).
    private func write(
        _ response: Response, on stream: HTTP2StreamID, to head: RequestHead, facts: RequestHeaderFacts,
        start: NIODeadline, context: ChannelHandlerContext, proxy: ProxiedRequest? = nil
    ) {
        var response = response
        if response.isSimple, settings.hasErrorPages, let page = settings.errorPages[response.status.code] {
            response = response.withErrorPage(page)
        }
        let now = recorder.needsTime ? context.eventLoop.now : start
        recorder.count(
            target: head.target, method: head.method, routeIndex: response.routeIndex, status: response.status.code,
            start: start, now: now, bodyBytes: response.body.byteCount)
        if var entry = recorder.entry(
            for: head, status: response.status, facts: facts, start: start, now: now,
            client: peer.clientAddress(of: head, realIP: settings.realIP))
        {
            entry.bodyBytesSent = response.body.byteCount
            if let proxy {
                entry.upstream = proxy.upstreamFacts
                entry.requestID = proxy.request.id
                entry.traceID = proxy.request.traceID
            }
            recorder.append(entry)
        }
        guard let (fields, body) = http2Form(of: response, isHEAD: head.method.isHEAD) else {
            // Edge wrote something it cannot read back: a bug, not the client's fault.
            settings.logger.error("cannot encode a response for HTTP/2", metadata: ["uri": "\(head.target)"])
            carried[stream] = CarriedStream()
            context.write(
                wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .rstStream(.internalError))), promise: nil)
            flushSoon()
            return
        }
        let last = context.eventLoop.makePromise(of: Void.self)
        if let body {
            context.write(
                wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: fields)))), promise: nil)
            context.write(
                wrapOutboundOut(
                    HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(body), endStream: true)))),
                promise: last)
        } else {
            context.write(
                wrapOutboundOut(
                    HTTP2Frame(streamID: stream, payload: .headers(.init(headers: fields, endStream: true)))),
                promise: last)
        }
        flushSoon()
        noteWaiting(stream, until: last.futureResult, context: context)
    }

    /// The response as HTTP/2 sends it; a cached file's is made once per second (`CachedFile.http2Response`).
    private func http2Form(of response: Response, isHEAD: Bool) -> (HPACKHeaders, ByteBuffer?)? {
        let dateLine = resources.dates.dateHeaderLine()
        guard let file = response.wholeFile, !isHEAD else {
            return http2Response(response, isHEAD: isHEAD, dateLine: dateLine)
        }
        if let kept = file.http2Response, kept.dateLine == dateLine, kept.hstsLine == listener.hstsHeaderLine {
            return (kept.fields, kept.body)
        }
        guard let (fields, body) = http2Response(response, isHEAD: false, dateLine: dateLine) else { return nil }
        file.http2Response = HTTP2CachedResponse(
            dateLine: dateLine, hstsLine: listener.hstsHeaderLine, fields: fields, body: body)
        return (fields, body)
    }

    /// The response's fields and body as the stream channel's way sends them: its head with `Date` and the
    /// listener's HSTS, read back as HTTP/1 and turned into HTTP/2 fields; its body as it is, or undone from HTTP/1
    /// chunks (a gzip stream). `nil` if it does not read back.
    private func http2Response(
        _ response: Response, isHEAD: Bool, dateLine: ByteBuffer
    ) -> (HPACKHeaders, ByteBuffer?)? {
        var bytes = ByteBuffer()
        bytes.reserveCapacity(response.head.readableBytes + dateLine.readableBytes + 64)
        bytes.writeImmutableBuffer(response.head)
        bytes.writeImmutableBuffer(dateLine)
        if let hsts = listener.hstsHeaderLine { bytes.writeImmutableBuffer(hsts) }
        bytes.writeStaticString("\r\n")
        var parser = HTTP1ResponseParser()
        parser.expectResponse(toHEAD: isHEAD)
        parser.append(bytes)
        guard case .head(let head)? = try? parser.next() else { return nil }
        let fields = HTTP2RequestTranslation.http2ResponseFields(head)
        guard case .memory(let memory) = response.body, !isHEAD, memory.readableBytes > 0 else { return (fields, nil) }
        guard head.bodyFraming == .chunked else { return (fields, memory) }
        parser.append(memory)
        var body = ByteBuffer()
        while let event = try? parser.next() {
            switch event {
            case .head: return nil
            case .body(var piece): body.writeBuffer(&piece)
            case .end: return (fields, body.readableBytes > 0 ? body : nil)
            }
        }
        return nil
    }

    // MARK: - Proxied streams

    /// Sends a proxied request on its way, as `HTTP1ConnectionHandler` does for HTTP/1.x, with an
    /// `HTTP2ProxiedStream` for a connection.
    private func startProxy(
        _ head: RequestHead, facts: RequestHeaderFacts, upstream: String, pool: UpstreamPool, on id: HTTP2StreamID,
        start: NIODeadline
    ) {
        guard let context else { return }
        let stream = HTTP2ProxiedStream(
            id: id, request: RequestInProgress(head: head, start: start), carrier: self, eventLoop: context.eventLoop,
            sendTimeout: settings.sendTimeout)
        let proxy = ProxiedRequest(
            head, facts: facts, upstream: upstream, pool: pool, peer: &peer,
            scheme: ConnectionTransport.http2Stream.scheme, settings: settings, resources: resources,
            hstsHeaderLine: listener.hstsHeaderLine, eventLoop: context.eventLoop, allocator: context.channel.allocator,
            connection: stream)
        carried[id] = CarriedStream(proxy: stream)
        stream.start(proxy)
    }

    /// Logs a proxied request whose client went away: 499 ("client closed request") if no response had begun, as
    /// nginx does, else the response's status with the bytes that went out.
    private func clientLeft(_ stream: HTTP2ProxiedStream, now: NIODeadline) {
        guard let proxy = stream.clientLeft() else { return }
        recorder.proxied(proxy, request: stream.request, status: proxy.headSent ? proxy.upstreamStatus : 499, now: now)
    }

    private func clientLeftEveryProxiedStream(now: NIODeadline) {
        let streams = carried.values.compactMap(\.proxy)
        carried = [:]
        for stream in streams { clientLeft(stream, now: now) }
    }

    // MARK: - Responses the client's window holds back

    /// A response's last frame normally leaves at the flush that ends this read; one still held back a loop tick
    /// later waits for the client's window, and gets `timeouts.send` to leave. One check per tick for all.
    private func noteWaiting(
        _ stream: HTTP2StreamID, until written: EventLoopFuture<Void>, context: ChannelHandlerContext
    ) {
        carried[stream] = CarriedStream(sendDeadline: .distantFuture)
        written.assumeIsolated().whenComplete { [self] _ in carried[stream]?.sendDeadline = nil }
        guard !tickCheckScheduled else { return }
        tickCheckScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            tickCheckScheduled = false
            let deadline = context.eventLoop.now + settings.sendTimeout
            var anyHeld = false
            for index in carried.indices where carried.values[index].sendDeadline == .distantFuture {
                carried.values[index].sendDeadline = deadline
                anyHeld = true
            }
            if anyHeld { scheduleWaitCheck(context: context) }
        }
    }

    private func scheduleWaitCheck(context: ChannelHandlerContext) {
        guard waitCheck == nil else { return }
        var next: NIODeadline?
        for stream in carried.values {
            if let deadline = stream.sendDeadline, deadline != .distantFuture, deadline < next ?? .distantFuture {
                next = deadline
            }
        }
        guard let next else { return }
        waitCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in
            waitCheck = nil
            let now = context.eventLoop.now
            let expired = carried.compactMap { id, stream in (stream.sendDeadline ?? .distantFuture) <= now ? id : nil }
            for stream in expired {
                carried[stream]?.sendDeadline = nil
                settings.logger.info("client stopped reading; closing", metadata: ["client": "\(peer.address)"])
                context.writeAndFlush(
                    wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .rstStream(.cancel))), promise: nil)
            }
            scheduleWaitCheck(context: context)
        }
    }
}

extension HTTP2FastPath: HTTP2StreamCarrier {
    var allocator: ByteBufferAllocator? { context?.channel.allocator }

    var connectionIsWritable: Bool { context?.channel.isWritable ?? false }

    func write(_ payload: HTTP2Frame.FramePayload, on stream: HTTP2StreamID, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: payload)), promise: promise)
    }

    /// Within a read burst its end flushes; otherwise (an upstream's read) once the loop has run this tick's other
    /// reads, so the responses of streams whose upstreams answered together leave in one write.
    func flushSoon() {
        if reading {
            needsFlush = true
            return
        }
        guard !flushScheduled, let context else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            self.context?.flush()
        }
    }

    func proxiedStreamEnded(_ stream: HTTP2ProxiedStream, _ proxy: ProxiedRequest, written: EventLoopFuture<Void>?) {
        guard carried[stream.id]?.proxy === stream, let context else { return }
        carried[stream.id] = CarriedStream()
        recorder.proxied(proxy, request: stream.request, status: proxy.upstreamStatus, now: context.eventLoop.now)
        flushSoon()
        if let written { noteWaiting(stream.id, until: written, context: context) }
    }

    /// Answers with the failure's status, or resets the stream if its response had begun: the client must not take
    /// a truncated body for a whole one.
    func proxiedStreamFailed(_ stream: HTTP2ProxiedStream, _ proxy: ProxiedRequest, _ failure: ProxyFailure) {
        guard carried[stream.id]?.proxy === stream, let context else { return }
        carried[stream.id] = CarriedStream()
        guard !proxy.headSent else {
            recorder.proxied(proxy, request: stream.request, status: proxy.upstreamStatus, now: context.eventLoop.now)
            context.write(
                wrapOutboundOut(HTTP2Frame(streamID: stream.id, payload: .rstStream(.internalError))), promise: nil)
            flushSoon()
            return
        }
        let response = Response.simple(failure.status, headers: [("X-Request-ID", proxy.request.id)])
        write(
            response, on: stream.id, to: stream.request.head, facts: proxy.request.facts, start: stream.request.start,
            context: context, proxy: proxy)
    }

    /// The client took nothing of the response for `timeouts.send`: the stream is reset and its request abandoned.
    func proxiedStreamStalled(_ stream: HTTP2ProxiedStream) {
        guard carried[stream.id]?.proxy === stream, let context else { return }
        carried[stream.id] = CarriedStream()
        settings.logger.info("client stopped reading; closing", metadata: ["client": "\(peer.address)"])
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream.id, payload: .rstStream(.cancel))), promise: nil)
        flushSoon()
        clientLeft(stream, now: context.eventLoop.now)
    }
}
