import NIOCore
import Shared

/// The connection's side of proxying. A request for a proxied route is checked and handed to a `ProxiedRequest` as
/// soon as its head arrives, so its body streams instead of being buffered; the connection then writes what the
/// proxied request gives it, and answers, logs and moves on to the next request when it ends.
extension HTTP1ConnectionHandler: ProxiedRequestConnection {
    func startProxy(_ head: RequestHead, upstream: String, context: ChannelHandlerContext) {
        guard let pool = resources.upstreams else { return }
        let facts = RequestHeaderFacts(head.headers, forLogging: resources.accessLog.isEnabled)
        if let refused = checkLimits(head, facts) {
            finishWithoutProxy(refused, head: head, context: context)
            return
        }
        // Framing first: most requests have no body, and then no field needs looking up.
        if head.bodyFraming != .none && head.headers.first("expect")?.lowercased() == "100-continue" {
            context.write(
                wrapOutboundOut(.byteBuffer(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n"))), promise: nil)
            needsFlush = true
        }
        let client = ProxyHeaders.clientFacts(
            peer: remoteAddress, trusted: peerIsTrusted, head: head, realIP: settings.realIP,
            scheme: transport.scheme, port: localPort, newRequestID: RequestIDGenerator.newRequestID)
        var encoded = context.channel.allocator.buffer(capacity: head.headers.byteCount + 384)
        ProxyHeaders.writeUpstreamRequest(head, client: client, into: &encoded)
        let request = UpstreamRequest(
            head: encoded, method: head.method, chunkedBody: head.bodyFraming == .chunked,
            isUpgrade: head.connectionOptions.contains("upgrade") && head.headers.first("upgrade") != nil)
        let exchange = ProxyExchange(
            upstream: upstream, request: request, requestID: client.requestID, pool: pool,
            eventLoop: context.eventLoop, responseTimeout: settings.upstreamResponseTimeout, logger: settings.logger)
        let proxied = ProxiedRequest(
            .init(
                id: client.requestID, clientAddress: client.address, peerAddress: remoteAddress, facts: facts,
                minorVersion: head.minorVersion, isHEAD: head.method.isHEAD),
            exchange: exchange, settings: settings, resources: resources, hstsHeaderLine: listener.hstsHeaderLine,
            connection: self)
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

    func proxyClientBody(_ body: ByteBuffer, context: ChannelHandlerContext) {
        guard let proxy, !proxy.requestEnded, proxy.clientBody(body) else { return }
        perform(.armTimer(.body), context: context)
    }

    func proxyClientEnd(context: ChannelHandlerContext) {
        guard let proxy else { return }
        timer.disarm()
        proxy.clientEnd()
    }

    /// The client left while its request was being proxied: logged as nginx does, 499 ("client closed request")
    /// if no response had begun, else the response's status with the bytes that went out.
    func clientLeftDuringProxy(now: NIODeadline) {
        guard let proxy else { return }
        proxy.clientLeft()
        let unanswered = requestWasMalformed ? 400 : 499
        logProxied(proxy, status: proxy.headSent ? proxy.upstreamStatus : unanswered, now: now)
        self.proxy = nil
    }

    // MARK: - ProxiedRequestConnection

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
            upstream: proxy.upstreamFacts, requestID: proxy.request.id)
        self.proxy = nil
        request = nil
        perform(state.responseWritten(responseClosesConnection: !keepAlive).action, context: context)
        processEvents(context: context)
        flushIfNeeded(context: context)
    }

    /// The access log line of a proxied request, with the upstream's fields.
    private func logProxied(_ proxy: ProxiedRequest, status: Int, now: NIODeadline) {
        guard resources.accessLog.isEnabled,
            var entry = accessLogEntry(
                for: request?.head, status: HTTPStatus(code: status, reason: ""), facts: proxy.request.facts,
                start: request?.start ?? now, now: now, clientAddress: proxy.request.clientAddress)
        else { return }
        entry.bodyBytesSent = proxy.responseBytes
        entry.upstream = proxy.upstreamFacts
        entry.requestID = proxy.request.id
        resources.accessLog.append(entry)
    }
}
