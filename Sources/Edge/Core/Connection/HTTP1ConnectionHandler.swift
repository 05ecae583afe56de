import Logging
import NIOCore
import NIOHTTP1
import Shared

/// Serves one HTTP/1.0 or HTTP/1.1 client connection (or one HTTP/2 stream, bridged): framing, limits, timeouts,
/// keep-alive, pipelining in order, back-pressure and graceful stop.
///
/// What a request gets is decided elsewhere: `RequestAdmission` refuses, `SiteResponder` answers from Edge's own
/// routes, a `ProxiedRequest` carries a proxied one, `FileBodySender` sends file bodies and `TunnelSwitch` turns an
/// upgraded connection into a tunnel. Decisions about the connection's life live in `HTTP1ConnectionState`; this
/// class performs them and keeps the order of responses.
///
/// Responses are written as raw bytes (pre-encoded heads, `FileRegion` bodies) rather than through
/// `HTTPResponseEncoder`, so a cached file costs one buffer copy and one write.
public final class HTTP1ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData

    private let settings: ConnectionSettings
    private let resources: LoopResources
    /// Plain, TLS or an HTTP/2 stream: decides how files are sent and the scheme reported.
    private let transport: ConnectionTransport
    /// What the listener adds: HSTS, or a redirect of everything to https.
    private let listener: ListenerRole
    private var parser: HTTP1RequestParser
    private var state = HTTP1ConnectionState()
    private var request: RequestInProgress?
    /// When the first bytes of a head that took more than one read arrived: a request's time counts from there,
    /// as nginx's `$request_time` does, also for one refused or timed out before its head was complete.
    private var headStart: NIODeadline?
    private var peer = ConnectionPeer()
    private var needsFlush = false
    private var readDeferred = false
    /// For the callbacks of proxied requests and file bodies, which arrive from elsewhere. Set while the handler is
    /// in a pipeline and cleared when it leaves: the context holds this handler, so keeping it afterwards would keep
    /// both alive forever.
    private var context: ChannelHandlerContext?
    /// The proxied request in progress, if any.
    private var proxy: ProxiedRequest?
    /// The transport found the request in progress malformed (`MalformedRequestError`) and ended it.
    private var requestWasMalformed = false
    /// Set when closing while the client may still be sending a body: discard input and close output first.
    private var lingerBeforeClose = false
    /// Set between an upstream's 101 and the switch to a tunnel, and while a request waits for its turn under
    /// `rate_limit`: input is kept, not parsed.
    private var holdingInput = false
    private var timer = ConnectionTimer()
    /// Set once the last response is written and the connection (or HTTP/2 stream) waits for it to leave before
    /// closing: a client that never takes it (an HTTP/2 window kept at 0, say) is cut off after `timeouts.send`.
    private var closingAfterWrites = false
    /// Sends file bodies and owns what of them is in flight; made for the connection's first file body.
    private var files: FileBodySender?
    /// Counts this connection's responses and makes their access log lines.
    private let recorder: ResponseRecorder

    /// How long a refused body may keep arriving before the connection is closed anyway.
    static let lingerTime = TimeAmount.seconds(2)

    /// The connection's place in `edge_connections` (HTTP/1 connections only; `nil` when metrics are off).
    private let gauge: ConnectionGauge?

    init(
        settings: ConnectionSettings, resources: LoopResources, transport: ConnectionTransport = .plain,
        listener: ListenerRole = .plain, gauge: ConnectionGauge? = nil
    ) {
        self.gauge = gauge
        self.settings = settings
        self.resources = resources
        self.transport = transport
        self.listener = listener
        self.recorder = ResponseRecorder(
            resources: resources, transport: transport, settings: settings, listenerID: listener.metricsID)
        self.parser = HTTP1RequestParser(
            limits: .init(maxURILength: settings.maxURILength, maxHeaderSize: settings.maxHeaderSize))
    }

    // MARK: - Inbound

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Behind TLS this handler is added once the handshake is done, when the channel is long active.
        if context.channel.isActive { connectionOpened(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        files?.connectionClosed()
        self.context = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        connectionOpened(context: context)
        context.fireChannelActive()
    }

    private func connectionOpened(context: ChannelHandlerContext) {
        peer.opened(context.channel)
        perform(state.connectionOpened(), context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer.cancel()
        clientLeftDuringProxy(now: context.eventLoop.now)
        request = nil
        files?.connectionClosed()
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A refused body still arriving while the connection lingers is dropped unparsed.
        guard !(lingerBeforeClose && state.phase == .closing) else { return }
        let bytes = unwrapInboundIn(data)
        resources.metrics?.count(.bytesIn, by: bytes.readableBytes)
        parser.append(bytes)
        guard !holdingInput else { return }
        processEvents(context: context)
    }

    /// Handles every complete event the parser has. A proxied request's response arrives later, so while one is in
    /// progress the next pipelined request waits in the parser.
    private func processEvents(context: ChannelHandlerContext) {
        while state.phase != .closing {
            if let proxy, proxy.requestEnded { break }
            // A file still being read out must finish before the next pipelined response starts.
            if files?.isReadingOut == true { break }
            let event: HTTP1RequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                refuseMalformedRequest(error, context: context)
                return
            }
            guard let event else { break }
            switch event {
            case .head(let head):
                guard headArrived(head, context: context) else { return }
            case .body(let body):
                if proxy != nil {
                    proxyClientBody(body, context: context)
                } else {
                    // Static routes take no body: it is read and dropped so the connection stays usable.
                    perform(.armTimer(.body), context: context)
                }
            case .end:
                if proxy != nil {
                    proxyClientEnd()
                    continue
                }
                // Moved out, not copied: a copy retains and then releases every part of the head.
                guard let request = request.take() else { continue }
                respond(to: request, context: context)
            }
        }
        if parser.hasPartialHead {
            if headStart == nil { headStart = context.eventLoop.now }
            perform(state.bytesReceived(), context: context)
        }
    }

    /// A request's head is in: it is counted against its rate limit and begun. `false` when the connection reads no
    /// more requests for now.
    ///
    /// The head moves into the request and every later step reads it there: passed on by value, each step's copy
    /// cost a cached file about 1 % of its instructions.
    @inline(__always)
    private func headArrived(_ head: consuming RequestHead, context: ChannelHandlerContext) -> Bool {
        let (process, action) = state.headReceived(keepAlive: head.keepAlive)
        guard process else { return false }
        let started = RequestInProgress(head: head, start: headStart.take() ?? context.eventLoop.now)
        request = started
        gauge?.set(.active)
        perform(action, context: context)
        if settings.site.hasRateLimits {
            switch applyRateLimit(to: started, context: context) {
            case .proceed: break
            case .answered: return true
            case .held: return false
            }
        }
        return begin(started, context: context)
    }

    /// What a request needs as soon as its head is in: its proxying, or on a route that takes no body, the body
    /// timer or (for a body it refuses anyway) the answer. `false` when the connection reads no more requests.
    @inline(__always)
    private func begin(_ request: RequestInProgress, context: ChannelHandlerContext) -> Bool {
        if listener.httpsRedirect == nil, let upstream = settings.site.upstream(for: request.head.target) {
            startProxy(request.head, upstream: upstream, context: context)
        } else if request.head.bodyFraming != .none {
            guard request.head.method.isGET || request.head.method.isHEAD,
                !RequestAdmission.exceedsMaxBodySize(request.head, settings: settings)
            else {
                answerWithoutBody(context: context)
                return false
            }
            // A GET's body is read and dropped, then the GET answered: it must keep coming, as a proxied one must
            // (over HTTP/2 no other timer watches a stream).
            perform(.armTimer(.body), context: context)
        }
        return true
    }

    private enum RateLimitStep {
        case proceed
        /// Refused and answered; the connection goes on to the next request.
        case answered
        /// Waiting for its turn, or refused with a body coming and closing: nothing more is read for now.
        case held
    }

    /// `rate_limit`: counts the request against its route's zone as its head arrives. A request within the burst
    /// waits its turn with input held (nothing else of the connection is parsed meanwhile); one beyond it is
    /// answered at once, as nginx does, with the route's status and `Retry-After`.
    /// Never inlined: a request on a route without a limit pays one test and nothing of this.
    @inline(never)
    private func applyRateLimit(to request: RequestInProgress, context: ChannelHandlerContext) -> RateLimitStep {
        let head = request.head
        guard let limit = settings.site.rateLimit(for: head.target),
            let key = limit.key(of: head, client: { clientAddress(of: head) })
        else { return .proceed }
        switch limit.judge(key, now: context.eventLoop.now) {
        case .pass:
            return .proceed
        case .wait(let delay):
            holdingInput = true
            context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
                guard let context = self.context, context.channel.isActive, self.holdingInput else { return }
                self.holdingInput = false
                if self.begin(request, context: context) { self.processEvents(context: context) }
                self.flushIfNeeded(context: context)
            }
            return .held
        case .refuse(let retryAfter):
            reportRateLimitRefusal(limit, head: head, now: context.eventLoop.now)
            if limit.dryRun { return .proceed }
            return refuseAtHead(limit.refusal(retryAfterSeconds: retryAfter), context: context) ? .answered : .held
        }
    }

    private func reportRateLimitRefusal(_ limit: RouteRateLimit, head: RequestHead, now: NIODeadline) {
        let client = clientAddress(of: head)
        guard let count = resources.rateLimitWarnings.note(client: client, now: now) else { return }
        settings.logger.warning(
            limit.dryRun ? "rate_limit would refuse a request (dry_run)" : "request refused by rate_limit",
            metadata: [
                "client": "\(client)", "zone": "\(limit.zone.name)", "uri": "\(head.target)",
                "status": "\(limit.status.code)", "refused": "\(count)",
            ])
    }

    /// Answers the request whose head just arrived with `refusal`, without waiting for its body. Without a body the
    /// connection goes on (`true`); with one, the body is drained for a while and the connection closed (the
    /// lingering close), as for `answerWithoutBody`.
    private func refuseAtHead(_ refusal: Response, context: ChannelHandlerContext) -> Bool {
        guard let request = request.take() else { return false }
        let head = request.head
        let hasBody = head.bodyFraming != .none
        var response = refusal
        if hasBody {
            response.closesConnection = true
            lingerBeforeClose = true
        }
        applyErrorPage(to: &response)
        let keepAlive = state.willKeepAlive(responseClosesConnection: response.closesConnection)
        write(
            response, keepAlive: keepAlive, http10: head.minorVersion == 0, logAs: (head, request.start),
            context: context)
        perform(state.responseWritten(responseClosesConnection: !keepAlive).action, context: context)
        if hasBody { flushIfNeeded(context: context) }
        return !hasBody
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let malformed = error as? MalformedRequestError {
            settings.logger.info(
                "malformed request", metadata: ["client": "\(peer.address)", "error": "\(malformed)", "status": "400"])
            requestWasMalformed = true
        } else {
            // Resets and the like: nothing to answer, nobody to answer to.
            settings.logger.debug("connection error", metadata: ["client": "\(peer.address)", "error": "\(error)"])
        }
        context.close(promise: nil)
    }

    private func refuseMalformedRequest(_ error: HTTP1ParseError, context: ChannelHandlerContext) {
        settings.logger.info(
            "malformed request",
            metadata: ["client": "\(peer.address)", "error": "\(error)", "status": "\(error.status.code)"])
        let start = request?.start ?? headStart ?? context.eventLoop.now
        var response = Response.simple(error.status, closesConnection: true)
        applyErrorPage(to: &response)
        write(
            response, keepAlive: false, http10: false,
            logAs: (request?.head, start),
            context: context, refusedLine: request == nil ? parser.refusedRequestLine() : nil)
        perform(state.protocolError(), context: context)
        flushIfNeeded(context: context)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            perform(state.quiesce(), context: context)
            flushIfNeeded(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        timer.noteWriteProgress(now: context.eventLoop.now)
        if context.channel.isWritable {
            proxy?.clientBecameWritable()
            files?.clientTookMore(context: context)
            if readDeferred && !(proxy?.clientReadsPaused ?? false) {
                readDeferred = false
                context.read()
            }
        } else {
            scheduleTimerCheck(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Outbound

    /// Holds reads back while the client is not taking our responses: a pipelining client cannot make us buffer
    /// unbounded responses.
    public func read(context: ChannelHandlerContext) {
        guard context.channel.isWritable && !(proxy?.clientReadsPaused ?? false) else {
            readDeferred = true
            return
        }
        context.read()
    }

    // MARK: - Answering

    private func respond(to request: RequestInProgress, closingConnection: Bool = false, context: ChannelHandlerContext)
    {
        let head = request.head
        let facts = RequestHeaderFacts(head.headers, forLogging: resources.accessLog.isEnabled)
        var response: Response
        var descriptor: OpenDescriptor? = nil
        if let refused = admissionRefusal(of: head) {
            response = refused
        } else if let redirect = listener.httpsRedirect {
            response = redirect.response(to: head, logger: settings.logger, peer: peer.address)
        } else {
            (response, descriptor) = SiteResponder.respond(
                to: head, facts: facts, settings: settings, resources: resources, allocator: context.channel.allocator,
                peer: peer.address)
        }
        if closingConnection { response.closesConnection = true }
        applyErrorPage(to: &response)
        let keepAlive = state.willKeepAlive(responseClosesConnection: response.closesConnection)
        let isHTTP10 = head.minorVersion == 0
        write(
            response, keepAlive: keepAlive, http10: isHTTP10, logAs: (head, request.start), facts: facts,
            descriptor: descriptor, context: context)
        perform(state.responseWritten(responseClosesConnection: response.closesConnection).action, context: context)
    }

    private func admissionRefusal(of head: RequestHead) -> Response? {
        let client = settings.site.hasAccessRules ? clientAddress(of: head) : nil
        return RequestAdmission.refusal(of: head, settings: settings, peer: peer.address, client: client)
    }

    /// A static route (or a redirecting listener) has no use for a body: a request it refuses anyway (405, 413, a
    /// redirect) is answered as soon as its head is in, as nginx does, instead of after a body that would be dropped
    /// (1,000 slow POSTs held 1,000 connections). The connection then closes after a bounded drain of what the
    /// client still sends (the lingering close), so the client can read the answer.
    private func answerWithoutBody(context: ChannelHandlerContext) {
        guard let request = request.take() else { return }
        lingerBeforeClose = true
        respond(to: request, closingConnection: true, context: context)
        flushIfNeeded(context: context)
    }

    // MARK: - Writing

    /// Encodes `response` after everything already written: head, `Date`, `Connection`, then the body.
    private func write(
        _ response: Response, keepAlive: Bool, http10: Bool, logAs logged: (head: RequestHead?, start: NIODeadline),
        facts: RequestHeaderFacts? = nil, descriptor: OpenDescriptor? = nil, context: ChannelHandlerContext,
        upstream: AccessLogEntry.UpstreamFacts? = nil, requestID: String? = nil, traceID: String? = nil,
        refusedLine: (method: String, target: String, version: String)? = nil
    ) {
        // The clock is read once for both, and not at all when neither wants it.
        let now = recorder.needsTime ? context.eventLoop.now : logged.start
        recorder.count(
            target: logged.head?.target, method: logged.head?.method, routeIndex: response.routeIndex,
            status: response.status.code, start: logged.start, now: now, bodyBytes: response.body.byteCount)
        var entry = recorder.entry(
            for: logged.head, status: response.status, facts: facts, start: logged.start, now: now,
            refusedLine: refusedLine, client: clientAddress(of: logged.head))
        entry?.upstream = upstream
        entry?.requestID = requestID
        entry?.traceID = traceID
        // A small file's whole response, ready-made with this second's `Date`: nothing to add for a keep-alive
        // HTTP/1.1 connection without HSTS, so it goes out as it is.
        if keepAlive, !http10, listener.hstsHeaderLine == nil, let file = response.wholeFile,
            let whole = file.wholeResponse(dateLine: resources.dates.dateHeaderLine())
        {
            needsFlush = true
            context.write(wrapOutboundOut(.byteBuffer(whole)), promise: nil)
            entry?.bodyBytesSent = response.body.byteCount
            entry.map(recorder.append)
            return
        }
        var head = context.channel.allocator.buffer(
            capacity: response.head.readableBytes + 96 + inlineBodySize(response.body))
        head.writeImmutableBuffer(response.head)
        head.writeImmutableBuffer(resources.dates.dateHeaderLine())
        if let hsts = listener.hstsHeaderLine { head.writeImmutableBuffer(hsts) }
        if !keepAlive {
            head.writeStaticString("Connection: close\r\n")
        } else if http10 {
            head.writeStaticString("Connection: keep-alive\r\n")
        }
        head.writeStaticString("\r\n")
        needsFlush = true

        switch response.body {
        case .none:
            context.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        case .memory(var body):
            if inlineBodySize(response.body) > 0 {
                head.writeBuffer(&body)
                context.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
            } else {
                context.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
                context.write(wrapOutboundOut(.byteBuffer(body)), promise: nil)
            }
        case .file(_, _, let offset, let length):
            guard let descriptor else {
                preconditionFailure("file responses are written with an open descriptor")
            }
            context.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
            let logCompleted = { [recorder] (sent: Int) in
                guard var entry else { return }
                entry.bodyBytesSent = sent
                entry.requestTime = Double((context.eventLoop.now - logged.start).nanoseconds) / 1e9
                recorder.append(entry)
            }
            let files = fileSender(context: context)
            if transport.canSendfile && response.bodyEncoder == nil {
                files.sendfile(descriptor, offset: offset, length: length, context: context, completion: logCompleted)
            } else {
                files.startReading(
                    descriptor, offset: offset, length: length, encoder: response.bodyEncoder, context: context,
                    completion: logCompleted)
            }
            return
        }
        entry?.bodyBytesSent = response.body.byteCount
        entry.map(recorder.append)
    }

    /// Edge's own error answers take the configured page for their status (`error_pages`). Called where those
    /// answers are made, not in `write`: a branch there changed how `write` was compiled into its callers and cost
    /// every cached file about 1 % of its instructions.
    private func applyErrorPage(to response: inout Response) {
        guard response.isSimple, settings.hasErrorPages else { return }
        replaceWithErrorPage(&response)
    }

    @inline(never)
    private func replaceWithErrorPage(_ response: inout Response) {
        guard let page = settings.errorPages[response.status.code] else { return }
        response = response.withErrorPage(page)
    }

    /// Small bodies are copied behind the head so the whole response leaves in one write.
    private func inlineBodySize(_ body: ResponseBody) -> Int {
        if case .memory(let buffer) = body, buffer.readableBytes <= 16 * 1024 { return buffer.readableBytes }
        return 0
    }

    private func fileSender(context: ChannelHandlerContext) -> FileBodySender {
        if let files { return files }
        let canCork: Bool
        switch context.channel.localAddress {
        case .v4, .v6: canCork = transport.canSendfile
        default: canCork = false
        }
        let made = FileBodySender(
            connection: self, turns: resources.fileSendTurns, chunkSizes: transport.fileChunkSizes, canCork: canCork)
        files = made
        return made
    }

    /// The client's address for the access log and the access rules, after `real_ip`.
    private func clientAddress(of head: RequestHead?) -> String {
        peer.clientAddress(of: head, realIP: settings.realIP)
    }

    // MARK: - The connection's life: the state machine's actions, flushing, timeouts

    private func perform(_ action: HTTP1ConnectionState.Action, context: ChannelHandlerContext) {
        // A file body still being read out: the keep-alive timer or the close start after its last byte.
        if action != .none, files?.deferUntilQueued(action) == true { return }
        switch action {
        case .none:
            break
        case .armTimer(let timeout):
            // An HTTP/2 stream arrives with its whole head and ends with its response: only a stalled body needs a
            // deadline. The connection's idle timeout is the HTTP/2 connection manager's.
            if transport == .http2Stream && timeout != .body { return }
            let delay: TimeAmount
            switch timeout {
            case .header: delay = settings.headerTimeout
            case .keepalive:
                delay = settings.keepaliveTimeout
                gauge?.set(.idle)
            case .body: delay = settings.bodyTimeout
            }
            timer.arm(timeout, at: context.eventLoop.now + delay)
            scheduleTimerCheck(context: context)
        case .closeAfterPendingWrites:
            timer.disarm()
            // An empty write completes only after every earlier write, so the client receives all of them.
            let barrier = context.eventLoop.makePromise(of: Void.self)
            context.write(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))), promise: barrier)
            needsFlush = true
            closingAfterWrites = true
            timer.noteWriteProgress(now: context.eventLoop.now)
            if transport == .http2Stream {
                // A stream's frames leave at the connection's flush, at the end of the read that brought the
                // request, and the stream closes then: a send check is needed only for one still open a loop tick
                // later (its window kept shut). Scheduling and cancelling a check for every stream cost 3 %.
                context.eventLoop.assumeIsolated().execute { [self] in
                    guard closingAfterWrites else { return }
                    scheduleTimerCheck(context: context)
                }
            } else {
                scheduleTimerCheck(context: context)
            }
            let linger = lingerBeforeClose
            barrier.futureResult.assumeIsolated().whenComplete { _ in
                guard linger else {
                    context.close(promise: nil)
                    return
                }
                // The client may still be sending a body we refused. Closing now would reset the connection and the
                // client could lose our response; instead stop writing, read and drop what still comes for a
                // while (nginx's lingering close), then close.
                context.close(mode: .output, promise: nil)
                context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) { context.close(promise: nil) }
            }
        }
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    /// Whether bytes wait for the client, so the send timeout applies.
    private func sendIsStalled(context: ChannelHandlerContext) -> Bool {
        files?.isSending == true || !context.channel.isWritable || closingAfterWrites
    }

    private func scheduleTimerCheck(context: ChannelHandlerContext) {
        // An HTTP/2 stream reports itself unwritable once closed, after `channelInactive` cancelled the timer: a check
        // scheduled then would outlive the stream (each a task on the loop for `timeouts.send`, cancelled by a linear
        // search, and a false "client stopped reading" when it fires).
        guard context.channel.isActive else { return }
        let stalled = sendIsStalled(context: context)
        guard let deadline = timer.nextDeadline(sendStalled: stalled, sendTimeout: settings.sendTimeout),
            !timer.hasCheck(atOrBefore: deadline)
        else { return }
        timer.schedule(at: deadline, on: context.eventLoop) { [self] in
            self.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        let stalled = sendIsStalled(context: context)
        switch timer.expired(now: context.eventLoop.now, sendStalled: stalled, sendTimeout: settings.sendTimeout) {
        case .none:
            scheduleTimerCheck(context: context)
        case .send:
            if timer.noteAcknowledged(TCPInfo.bytesAcknowledged(on: context.channel), now: context.eventLoop.now) {
                scheduleTimerCheck(context: context)
                return
            }
            settings.logger.info("client stopped reading; closing", metadata: ["client": "\(peer.address)"])
            context.close(promise: nil)
        case .request(let timeout):
            if let proxy {
                // A proxied body that stopped coming: answered (or cut, if the response had begun) and logged once,
                // with the upstream's fields; the upstream request is abandoned.
                proxy.fail(.requestBodyTimeout)
                return
            }
            let (send408, action) = state.timedOut(timeout)
            if send408 {
                let what = timeout == .body ? "request body not received in time" : "request head not received in time"
                settings.logger.info("\(what)", metadata: ["client": "\(peer.address)"])
                var response = Response.simple(.requestTimeout, closesConnection: true)
                applyErrorPage(to: &response)
                write(
                    response, keepAlive: false, http10: false,
                    logAs: (request?.head, request?.start ?? headStart ?? context.eventLoop.now), context: context)
            }
            perform(action, context: context)
            flushIfNeeded(context: context)
        }
    }
}

// MARK: - Proxied requests

/// A request for a proxied route is checked and handed to a `ProxiedRequest` as soon as its head arrives, so its body
/// streams instead of being buffered; the connection then writes what the proxied request gives it, and answers,
/// logs and moves on to the next request when it ends.
extension HTTP1ConnectionHandler: ProxiedRequestConnection {
    private func startProxy(_ head: RequestHead, upstream: String, context: ChannelHandlerContext) {
        guard let pool = resources.upstreams else { return }
        let facts = RequestHeaderFacts(head.headers, forLogging: resources.accessLog.isEnabled)
        if let refused = admissionRefusal(of: head) {
            finishWithoutProxy(refused, head: head, context: context)
            return
        }
        // Framing first: most requests have no body, and then no field needs looking up. An HTTP/1.0 client does not
        // know 1xx responses (RFC 9110 §15.2), so it gets none.
        if head.bodyFraming != .none && head.minorVersion == 1
            && head.headers.first("expect")?.lowercased() == "100-continue"
        {
            context.write(
                wrapOutboundOut(.byteBuffer(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n"))), promise: nil)
            needsFlush = true
        }
        let proxied = ProxiedRequest(
            head, facts: facts, upstream: upstream, pool: pool, peer: &peer, scheme: transport.scheme,
            settings: settings, resources: resources, hstsHeaderLine: listener.hstsHeaderLine,
            eventLoop: context.eventLoop, allocator: context.channel.allocator, connection: self)
        proxy = proxied
        // Between body reads `timeouts.body` applies; the upstream's own timeouts are the exchange's business.
        perform(.armTimer(.body), context: context)
        proxied.start()
    }

    private func finishWithoutProxy(_ refusal: Response, head: RequestHead, context: ChannelHandlerContext) {
        var response = refusal
        applyErrorPage(to: &response)
        let start = request?.start ?? context.eventLoop.now
        request = nil
        lingerBeforeClose = head.bodyFraming != .none
        write(response, keepAlive: false, http10: head.minorVersion == 0, logAs: (head, start), context: context)
        perform(state.responseWritten(responseClosesConnection: true).action, context: context)
    }

    private func proxyClientBody(_ body: ByteBuffer, context: ChannelHandlerContext) {
        guard let proxy, !proxy.requestEnded, proxy.clientBody(body) else { return }
        perform(.armTimer(.body), context: context)
    }

    private func proxyClientEnd() {
        guard let proxy else { return }
        timer.disarm()
        proxy.clientEnd()
    }

    /// The client left while its request was being proxied: logged as nginx does, 499 ("client closed request")
    /// if no response had begun, else the response's status with the bytes that went out.
    private func clientLeftDuringProxy(now: NIODeadline) {
        guard let proxy else { return }
        proxy.clientLeft()
        let unanswered = requestWasMalformed ? 400 : 499
        logProxied(proxy, status: proxy.headSent ? proxy.upstreamStatus : unanswered, now: now)
        self.proxy = nil
    }

    /// The access log line of a proxied request, with the upstream's fields.
    private func logProxied(_ proxy: ProxiedRequest, status: Int, now: NIODeadline) {
        recorder.proxied(proxy, request: request, status: status, now: now)
    }

    // A proxied request stops calling back when the connection goes inactive (`channelInactive` tells it the client
    // left, before the handler leaves the pipeline and drops `context`); these check for a context anyway, as a
    // crash here would take every connection of the process with it.

    var clientIsWritable: Bool { context?.channel.isWritable ?? false }

    var allocator: ByteBufferAllocator? { context?.channel.allocator }

    func willKeepAlive(responseClosesConnection closes: Bool) -> Bool {
        state.willKeepAlive(responseClosesConnection: closes)
    }

    func writeToClient(_ bytes: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
        needsFlush = true
    }

    func flushToClient() {
        guard let context else { return }
        flushIfNeeded(context: context)
    }

    func pauseClientReads(_ paused: Bool) {
        guard !paused, readDeferred, let context else { return }
        readDeferred = false
        context.read()
    }

    func proxiedResponseEnded(closesConnection: Bool) {
        guard let proxy, let context else { return }
        logProxied(proxy, status: proxy.upstreamStatus, now: context.eventLoop.now)
        self.proxy = nil
        request = nil
        needsFlush = true
        perform(state.responseWritten(responseClosesConnection: closesConnection).action, context: context)
        // Pipelined requests that waited for this response; their answers are flushed here, as this runs outside
        // the client's read cycle.
        processEvents(context: context)
        flushIfNeeded(context: context)
    }

    /// Answers a proxied request that cannot go on with the failure's status (or cuts the response, if it has
    /// begun), logs it with the upstream's fields, and moves on to the next request or closes.
    func proxiedRequestFailed(_ failure: ProxyFailure) {
        guard let proxy, let context else { return }
        guard !proxy.headSent else {
            // Mid-response: the client must not take a truncated body for a whole one. The log line has the status
            // the client saw and the bytes it got.
            logProxied(proxy, status: proxy.upstreamStatus, now: context.eventLoop.now)
            self.proxy = nil
            request = nil
            context.close(promise: nil)
            return
        }
        var response = Response.simple(
            failure.status, headers: [("X-Request-ID", proxy.request.id)], closesConnection: !proxy.requestEnded)
        lingerBeforeClose = !proxy.requestEnded
        response.closesConnection = response.closesConnection || failure.status == .payloadTooLarge
        applyErrorPage(to: &response)
        let keepAlive = state.willKeepAlive(responseClosesConnection: response.closesConnection)
        let head = request?.head
        let start = request?.start ?? context.eventLoop.now
        write(
            response, keepAlive: keepAlive, http10: head?.minorVersion == 0, logAs: (head, start), context: context,
            upstream: proxy.upstreamFacts, requestID: proxy.request.id, traceID: proxy.request.traceID)
        self.proxy = nil
        request = nil
        perform(state.responseWritten(responseClosesConnection: !keepAlive).action, context: context)
        processEvents(context: context)
        flushIfNeeded(context: context)
    }

    /// Answers the client's upgrade with the upstream's 101, logs it, and hands both connections to a tunnel on the
    /// next tick; bytes arriving meanwhile are kept unparsed.
    func proxiedRequestUpgraded(_ upstreamHead: ResponseHead, upstream: UpstreamConnection) {
        guard let proxy, let context else { return }
        let tunnel = TunnelSwitch(upstream: upstream, requestID: proxy.request.id, settings: settings)
        let head = tunnel.switchingProtocolsHead(
            upstreamHead, dateLine: resources.dates.dateHeaderLine(), hstsHeaderLine: listener.hstsHeaderLine,
            allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        let now = context.eventLoop.now
        recorder.count(
            target: request?.head.target, method: request?.head.method, status: 101, start: request?.start ?? now,
            now: now, bodyBytes: 0)
        if var entry = recorder.entry(
            for: request?.head, status: HTTPStatus(code: 101, reason: ""), facts: proxy.request.facts,
            start: request?.start ?? now, now: now, client: proxy.request.clientAddress)
        {
            entry.upstream = .init(
                address: upstream.server.description, status: 101, seconds: proxy.upstreamFacts.seconds)
            entry.requestID = proxy.request.id
            entry.traceID = proxy.request.traceID
            recorder.append(entry)
        }
        self.proxy = nil
        request = nil
        timer.cancel()
        holdingInput = true
        context.eventLoop.assumeIsolated().execute { [self] in
            tunnel.connect(client: self.context, replacing: self, unparsed: self.parser.takeUnparsedBytes())
        }
    }
}

// MARK: - File bodies

/// What the connection does for its `FileBodySender`: the send timeout's bookkeeping, the order of responses, and
/// closing when a body cannot be sent whole. A file's last write may complete after the handler left the pipeline
/// (the connection closed): `context` is checked in each.
extension HTTP1ConnectionHandler: FileBodyConnection {
    func fileBodyProgressed() {
        guard let context else { return }
        timer.noteWriteProgress(now: context.eventLoop.now)
    }

    func fileBodyInFlight() {
        guard let context else { return }
        scheduleTimerCheck(context: context)
    }

    func fileBodyQueued(then actions: [HTTP1ConnectionState.Action], resumeRequests: Bool) {
        guard let context else { return }
        for action in actions { perform(action, context: context) }
        guard resumeRequests else { return }
        processEvents(context: context)
        flushIfNeeded(context: context)
    }

    func fileBodyFailed(_ error: any Error) {
        // The head promised a body that can no longer be delivered: only closing tells the client.
        settings.logger.error(
            "cannot send the rest of a file; closing", metadata: ["client": "\(peer.address)", "error": "\(error)"])
        context?.close(promise: nil)
    }

    func flushFileBody() {
        needsFlush = false
        context?.flush()
    }
}
