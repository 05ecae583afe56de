import Logging
import NIOCore
import NIOHTTP1
import Shared

/// Serves one HTTP/1.0 or HTTP/1.1 client connection: limits, timeouts, keep-alive, pipelining in order,
/// back-pressure and graceful stop, with the responses decided by `StaticSite`.
///
/// Responses are written as raw bytes (pre-encoded heads, `FileRegion` bodies) rather than through
/// `HTTPResponseEncoder`, so a cached file costs one buffer copy and one write. Decisions about the connection's
/// life live in `HTTP1ConnectionState`; this class performs them.
public final class HTTP1ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData

    let settings: ConnectionSettings
    let resources: LoopResources
    /// Plain, TLS or an HTTP/2 stream: decides how files are sent and the scheme reported.
    let transport: ConnectionTransport
    /// What the listener adds: HSTS, or a redirect of everything to https.
    let listener: ListenerRole
    var parser: HTTP1RequestParser
    var state = HTTP1ConnectionState()
    var request: RequestInProgress?
    /// When the first bytes of a head that took more than one read arrived: a request's time counts from there,
    /// as nginx's `$request_time` does, also for one refused or timed out before its head was complete.
    var headStart: NIODeadline?
    var remoteAddress = "-"
    /// Whether the peer is in `real_ip.trusted`, decided once per connection: each check parses the address
    /// against every trusted range.
    private(set) lazy var peerIsTrusted = settings.realIP.trusts(remoteAddress)
    var localPort = 0
    var needsFlush = false
    var readDeferred = false
    /// For the proxy's callbacks, which arrive from the upstream side. Set while the handler is in a pipeline and
    /// cleared when it leaves: the context holds this handler, so keeping it afterwards would keep both alive forever.
    var context: ChannelHandlerContext!
    /// The proxied request in progress, if any (see `HTTP1ConnectionHandler+Proxying`).
    var proxy: ProxiedRequest?
    /// The transport found the request in progress malformed (`MalformedRequestError`) and ended it.
    var requestWasMalformed = false
    /// Set when closing while the client may still be sending a body: discard input and close output first.
    var lingerBeforeClose = false
    /// Set between an upstream's 101 and the switch to a tunnel: input is kept, not parsed.
    var upgrading = false

    var timer = ConnectionTimer()
    /// Sends file bodies and owns what of them is in flight; made for the connection's first file body.
    private(set) var files: FileBodySender?

    public init(
        settings: ConnectionSettings, resources: LoopResources, transport: ConnectionTransport = .plain,
        listener: ListenerRole = .plain
    ) {
        self.settings = settings
        self.resources = resources
        self.transport = transport
        self.listener = listener
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
        remoteAddress = context.channel.remoteAddress.map(Self.describe) ?? "-"
        localPort = context.channel.localAddress?.port ?? 0
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
        parser.append(unwrapInboundIn(data))
        guard !upgrading else { return }
        processEvents(context: context)
    }

    /// Handles every complete event the parser has. A proxied request's response arrives later, so while one is in
    /// progress the next pipelined request waits in the parser.
    func processEvents(context: ChannelHandlerContext) {
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
                let (process, action) = state.headReceived(keepAlive: head.keepAlive)
                guard process else { return }
                request = RequestInProgress(head: head, start: headStart.take() ?? context.eventLoop.now)
                perform(action, context: context)
                if listener.httpsRedirect == nil, let upstream = settings.site.upstream(for: head.target) {
                    startProxy(head, upstream: upstream, context: context)
                } else if head.bodyFraming != .none {
                    guard head.method.isGET || head.method.isHEAD, !exceedsMaxBodySize(head) else {
                        answerWithoutBody(context: context)
                        return
                    }
                    // A GET's body is read and dropped, then the GET answered: it must keep coming, as a proxied
                    // one must (over HTTP/2 no other timer watches a stream).
                    perform(.armTimer(.body), context: context)
                }
            case .body(let body):
                if proxy != nil {
                    proxyClientBody(body, context: context)
                } else {
                    // Static routes take no body: it is read and dropped so the connection stays usable.
                    perform(.armTimer(.body), context: context)
                }
            case .end:
                if proxy != nil {
                    proxyClientEnd(context: context)
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

    public func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let malformed = error as? MalformedRequestError {
            settings.logger.info(
                "malformed request", metadata: ["client": "\(remoteAddress)", "error": "\(malformed)", "status": "400"])
            requestWasMalformed = true
        } else {
            // Resets and the like: nothing to answer, nobody to answer to.
            settings.logger.debug("connection error", metadata: ["client": "\(remoteAddress)", "error": "\(error)"])
        }
        context.close(promise: nil)
    }

    private func refuseMalformedRequest(_ error: HTTP1ParseError, context: ChannelHandlerContext) {
        settings.logger.info(
            "malformed request",
            metadata: ["client": "\(remoteAddress)", "error": "\(error)", "status": "\(error.status.code)"])
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

    // MARK: - Writing

    /// Encodes `response` after everything already written: head, `Date`, `Connection`, then the body.
    func write(
        _ response: Response, keepAlive: Bool, http10: Bool, logAs logged: (head: RequestHead?, start: NIODeadline),
        facts: RequestHeaderFacts? = nil, descriptor: OpenDescriptor? = nil, context: ChannelHandlerContext,
        upstream: AccessLogEntry.UpstreamFacts? = nil, requestID: String? = nil,
        refusedLine: (method: String, target: String, version: String)? = nil
    ) {
        var entry = accessLogEntry(
            for: logged.head, status: response.status, facts: facts, start: logged.start, now: context.eventLoop.now,
            refusedLine: refusedLine)
        entry?.upstream = upstream
        entry?.requestID = requestID
        // A small file's whole response, ready-made with this second's `Date`: nothing to add for a keep-alive
        // HTTP/1.1 connection without HSTS, so it goes out as it is.
        if keepAlive, !http10, listener.hstsHeaderLine == nil, let file = response.wholeFile,
            let whole = file.wholeResponse(dateLine: resources.dates.dateHeaderLine())
        {
            needsFlush = true
            context.write(wrapOutboundOut(.byteBuffer(whole)), promise: nil)
            entry?.bodyBytesSent = response.body.byteCount
            entry.map(resources.accessLog.append)
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
            let logCompleted = { [resources] (sent: Int) in
                guard var entry else { return }
                entry.bodyBytesSent = sent
                entry.requestTime = Double((context.eventLoop.now - logged.start).nanoseconds) / 1e9
                resources.accessLog.append(entry)
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
        entry.map(resources.accessLog.append)
    }

    /// Edge's own error answers take the configured page for their status (`error_pages`). Called where those
    /// answers are made, not in `write`: a branch there changed how `write` was compiled into its callers and cost
    /// every cached file about 1 % of its instructions.
    func applyErrorPage(to response: inout Response) {
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

    private static func describe(_ address: SocketAddress) -> String {
        switch address {
        case .v4, .v6: address.ipAddress ?? "-"
        case .unixDomainSocket: "unix:"
        }
    }
}
