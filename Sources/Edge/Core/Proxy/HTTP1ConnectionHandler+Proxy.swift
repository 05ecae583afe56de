import Logging
import NIOCore
import NIOHTTP1
import Shared

/// What a connection tracks about the proxied exchange in progress. A class: updated in place for every body piece,
/// where a struct in an optional would be copied out and back each time.
final class ProxyState {
    let exchange: ProxyExchange
    let requestID: String
    /// The client's address as `real_ip` decided it for the forwarded headers, and the request's fields as read
    /// once (with `Referer` and `User-Agent` when logging), both kept for the access log: behind a CDN every request
    /// would otherwise walk `X-Forwarded-For` a second time, and every request would parse its fields twice.
    let clientAddress: String
    let facts: RequestHeaderFacts
    /// The client's request (head, body, end) has fully arrived.
    var requestEnded = false
    var bodyBytes = 0
    var headSent = false
    /// The response head, held until the first body piece or the end of the upstream's read burst so that a small
    /// response leaves in one buffer and one `write` rather than a two-part `writev`.
    var pendingHead: ByteBuffer?
    var chunked = false
    var keepAlive = false
    var responseBytes = 0
    var clientReadsPaused = false
    /// Set when the response is gzipped on its way through.
    var gzip: GzipEncoder?

    init(exchange: ProxyExchange, requestID: String, clientAddress: String, facts: RequestHeaderFacts) {
        self.exchange = exchange
        self.requestID = requestID
        self.clientAddress = clientAddress
        self.facts = facts
    }
}

extension HTTP1ConnectionHandler: ProxyClient {
    /// A request for a proxied route: checked, rewritten and handed to a `ProxyExchange` as soon as its head arrives,
    /// so the body streams instead of being buffered.
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
            scheme: transport.scheme, port: localPort, newRequestID: Self.newRequestID)
        var encoded = context.channel.allocator.buffer(capacity: head.headers.byteCount + 384)
        ProxyHeaders.writeUpstreamRequest(head, client: client, into: &encoded)
        let request = UpstreamRequest(
            head: encoded, method: head.method, chunkedBody: head.bodyFraming == .chunked,
            isUpgrade: head.connectionOptions.contains("upgrade") && head.headers.first("upgrade") != nil)
        let exchange = ProxyExchange(
            upstream: upstream, request: request, requestID: client.requestID, pool: pool, client: self,
            eventLoop: context.eventLoop, responseTimeout: settings.upstreamResponseTimeout, logger: settings.logger)
        proxy = ProxyState(exchange: exchange, requestID: client.requestID, clientAddress: client.address, facts: facts)
        // Between body reads `timeouts.body` applies; the upstream's own timeouts are the exchange's business.
        perform(.armTimer(.body), context: context)
        exchange.start()
    }

    private func finishWithoutProxy(_ response: Response, head: RequestHead, context: ChannelHandlerContext) {
        let start = request?.start ?? context.eventLoop.now
        request = nil
        lingerBeforeClose = head.bodyFraming != .none
        write(response, keepAlive: false, http10: head.minorVersion == 0, logAs: (head, start), context: context)
        perform(state.responseWritten(responseClosesConnection: true).action, context: context)
    }

    func proxyClientBody(_ body: ByteBuffer, context: ChannelHandlerContext) {
        guard let state = proxy, !state.requestEnded else { return }
        state.bodyBytes += body.readableBytes
        if state.bodyBytes > settings.maxBodySize {
            // A chunked body grew past the limit: the upstream never gets more than this. The client's doing, so
            // one line at info, as for a Content-Length over the limit, not the error a failing upstream gets.
            state.exchange.cancel()
            endProxy(.requestBodyTooLarge(limit: settings.maxBodySize))
            return
        }
        perform(.armTimer(.body), context: context)
        state.exchange.clientBody(body)
    }

    func proxyClientEnd(context: ChannelHandlerContext) {
        guard let state = proxy else { return }
        state.requestEnded = true
        timer.disarm()
        state.exchange.clientEnd()
    }

    // MARK: - ProxyClient

    // The exchange stops calling back when the connection goes inactive (`channelInactive` cancels it, before the
    // handler leaves the pipeline and drops `context`); the two callbacks below that need no exchange state check
    // for a context anyway, as a crash here would take every connection of the process with it.

    var clientIsWritable: Bool { context?.channel.isWritable ?? false }

    func proxyResponseHead(_ upstreamHead: ResponseHead) {
        guard let state = proxy, let request else { return }
        // The upstream's framing is undone; a body of unknown length is chunked again for HTTP/1.1 clients, and
        // delimited by closing the connection for HTTP/1.0 ones.
        let unknownLength: Bool
        switch upstreamHead.bodyFraming {
        case .chunked, .untilClose: unknownLength = true
        case .none, .length: unknownLength = false
        }
        let compression = compressionDecision(for: upstreamHead, request: request.head, facts: nil)
        let hasBody = upstreamHead.bodyFraming != .none
        if compression == .gzip && hasBody {
            do {
                state.gzip = try resources.gzipStreams.take()
            } catch {
                settings.logger.error("gzip failed; sending uncompressed", metadata: ["error": "\(error)"])
            }
        }
        let compressing = state.gzip != nil
        state.chunked = (unknownLength || compressing) && request.head.minorVersion == 1
        state.keepAlive = self.state.willKeepAlive(
            responseClosesConnection: unknownLength && request.head.minorVersion == 0)
        var bytes = HeadBytes(capacity: upstreamHead.headers.byteCount + 320)
        bytes.append("HTTP/1.1 ")
        bytes.append(decimal: upstreamHead.status)
        bytes.append(" ")
        bytes.append(upstreamHead.reason)
        bytes.append("\r\nServer: edge\r\n")
        bytes.append(resources.dates.dateHeaderLine())
        // The app's own HSTS policy, if it sends one, wins over the listener's.
        if let hsts = listener.hstsHeaderLine, upstreamHead.headers.first("strict-transport-security") == nil {
            bytes.append(hsts)
        }
        if compression == .untouched || (compression == .gzip && hasBody && !compressing) {
            ProxyHeaders.writeClientResponseFields(upstreamHead, into: &bytes)
        } else {
            var fields = context.channel.allocator.buffer(capacity: upstreamHead.headers.byteCount + 64)
            ProxyHeaders.writeClientResponseFields(upstreamHead, into: &fields)
            var rewritten = context.channel.allocator.buffer(capacity: upstreamHead.headers.byteCount + 128)
            GzipHeaderFilter.rewrite(fields, for: compression, into: &rewritten)
            bytes.append(rewritten)
        }
        // A HEAD answer carries the framing a GET would get.
        let headOfGzip = compression == .gzip && request.head.method.isHEAD
        if state.chunked || headOfGzip { bytes.append("Transfer-Encoding: chunked\r\n") }
        bytes.append("X-Request-ID: ")
        bytes.append(string: state.requestID)
        bytes.append("\r\n")
        if !state.keepAlive {
            bytes.append("Connection: close\r\n")
        } else if request.head.minorVersion == 0 {
            bytes.append("Connection: keep-alive\r\n")
        }
        bytes.append("\r\n")
        // Room for a small first body piece only where `proxyResponseBody` may append one, and no more than the
        // body can need: a buffer past malloc's small sizes (4 KiB and up) cost more to get and free than the rest
        // of the head.
        let mergeRoom: Int
        if state.gzip != nil || state.chunked || !hasBody {
            mergeRoom = 0
        } else if case .length(let length) = upstreamHead.bodyFraming {
            mergeRoom = min(length, Self.mergedBodyLimit)
        } else {
            mergeRoom = Self.mergedBodyLimit
        }
        var head = context.channel.allocator.buffer(capacity: bytes.count + mergeRoom)
        head.writeHead(bytes)
        state.headSent = true
        state.pendingHead = head
        needsFlush = true
    }

    /// Small body pieces join the held head; anything else goes out behind it.
    private static let mergedBodyLimit = 4096

    /// Writes the held response head, with `body` appended when it is small.
    private func writePendingHead(_ state: ProxyState, appending body: ByteBuffer? = nil) -> Bool {
        guard var head = state.pendingHead else { return false }
        state.pendingHead = nil
        var merged = false
        if var body, body.readableBytes <= Self.mergedBodyLimit {
            head.writeBuffer(&body)
            merged = true
        }
        context.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        return merged
    }

    func proxyResponseBody(_ body: ByteBuffer) {
        guard let state = proxy, body.readableBytes > 0 else { return }
        if state.gzip == nil && !state.chunked && writePendingHead(state, appending: body) {
            // A small first piece left together with the held head.
            state.responseBytes += body.readableBytes
            needsFlush = true
            return
        }
        _ = writePendingHead(state)
        if let gzip = state.gzip {
            writeCompressed { try gzip.chunk(body, allocator: context.channel.allocator) }
            return
        }
        state.responseBytes += body.readableBytes
        if state.chunked {
            var framed = context.channel.allocator.buffer(capacity: body.readableBytes + 16)
            framed.writeString(String(body.readableBytes, radix: 16))
            framed.writeStaticString("\r\n")
            framed.writeImmutableBuffer(body)
            framed.writeStaticString("\r\n")
            context.write(wrapOutboundOut(.byteBuffer(framed)), promise: nil)
        } else {
            context.write(wrapOutboundOut(.byteBuffer(body)), promise: nil)
        }
        // Flushed when the upstream's read burst ends (`proxyFlush`), so a streamed response (server-sent events)
        // reaches the client as it is produced, at one flush per burst rather than per piece.
        needsFlush = true
    }

    func proxyFlush() {
        guard let context else { return }
        if let state = proxy { _ = writePendingHead(state) }
        if let gzip = proxy?.gzip {
            writeCompressed { try gzip.flush(allocator: context.channel.allocator) }
        }
        flushIfNeeded(context: context)
    }

    /// Writes what the gzip stream produced; a failing stream ends the response the only honest way left.
    private func writeCompressed(_ produce: () throws -> ByteBuffer) {
        guard let state = proxy else { return }
        do {
            let chunk = try produce()
            guard chunk.readableBytes > 0 else { return }
            state.responseBytes += chunk.readableBytes
            context.write(wrapOutboundOut(.byteBuffer(chunk)), promise: nil)
            needsFlush = true
        } catch {
            state.gzip?.release()
            state.gzip = nil
            state.exchange.cancel()
            proxyFailed(.compressionFailed(reason: "\(error)"))
        }
    }

    func proxyResponseEnd() {
        guard let state = proxy else { return }
        _ = writePendingHead(state)
        if let gzip = state.gzip {
            writeCompressed { try gzip.finish(allocator: context.channel.allocator) }
            state.gzip = nil
            guard proxy != nil else { return }  // the stream failed and the connection is closing
        } else if state.chunked {
            context.write(wrapOutboundOut(.byteBuffer(ByteBuffer(string: "0\r\n\r\n"))), promise: nil)
        }
        // A response that ends before the client finished its request leaves the body unread: close then.
        finishProxy(closes: !state.keepAlive || !state.requestEnded)
    }

    func proxyFailed(_ failure: ProxyFailure) {
        endProxy(failure)
    }

    /// Answers a proxied request that cannot go on with the failure's status (or cuts the response, if it has
    /// begun), logs it once with the upstream's fields, and moves on to the next request or closes.
    func endProxy(_ failure: ProxyFailure) {
        let status = failure.status
        guard let state = proxy else { return }
        state.gzip?.release()
        state.gzip = nil
        let metadata: Logger.Metadata = [
            "upstream": "\(state.exchange.upstream)", "server": "\(state.exchange.server.map(\.description) ?? "-")",
            "cause": "\(failure.cause)", "status": "\(status.code)", "request_id": "\(state.requestID)",
            "client": "\(remoteAddress)",
        ]
        if failure.isClientsFault {
            settings.logger.info("proxied request refused", metadata: metadata)
        } else {
            settings.logger.error("proxy failed", metadata: metadata)
        }
        guard !state.headSent else {
            // Mid-response: the client must not take a truncated body for a whole one. The log line has the status
            // the client saw and the bytes it got.
            logProxied(state, status: state.exchange.upstreamStatus ?? 0, now: context.eventLoop.now)
            proxy = nil
            request = nil
            context.close(promise: nil)
            return
        }
        var response = Response.simple(
            status, headers: [("X-Request-ID", state.requestID)], closesConnection: !state.requestEnded)
        lingerBeforeClose = !state.requestEnded
        response.closesConnection = response.closesConnection || status == .payloadTooLarge
        let keepAlive = self.state.willKeepAlive(responseClosesConnection: response.closesConnection)
        let head = request?.head
        let start = request?.start ?? context.eventLoop.now
        write(
            response, keepAlive: keepAlive, http10: head?.minorVersion == 0, logAs: (head, start), context: context,
            upstream: .init(
                address: state.exchange.server?.description ?? "-", status: state.exchange.upstreamStatus ?? 0,
                seconds: state.exchange.upstreamSeconds),
            requestID: state.requestID)
        proxy = nil
        request = nil
        perform(self.state.responseWritten(responseClosesConnection: !keepAlive).action, context: context)
        processEvents(context: context)
        flushIfNeeded(context: context)
    }

    /// The client left while its request was being proxied: logged as nginx does, 499 ("client closed request")
    /// if no response had begun, else the response's status with the bytes that went out.
    func clientLeftDuringProxy(now: NIODeadline) {
        guard let state = proxy else { return }
        state.exchange.cancel()
        state.gzip?.release()
        let unanswered = requestWasMalformed ? 400 : 499
        logProxied(state, status: state.headSent ? state.exchange.upstreamStatus ?? 0 : unanswered, now: now)
        proxy = nil
    }

    /// The access log line of a proxied request, with the upstream's fields.
    private func logProxied(_ state: ProxyState, status: Int, now: NIODeadline) {
        guard resources.accessLog.isEnabled,
            var entry = accessLogEntry(
                for: request?.head, status: HTTPStatus(code: status, reason: ""),
                facts: state.facts, start: request?.start ?? now, now: now, clientAddress: state.clientAddress)
        else { return }
        entry.bodyBytesSent = state.responseBytes
        entry.upstream = .init(
            address: state.exchange.server?.description ?? "-", status: state.exchange.upstreamStatus ?? 0,
            seconds: state.exchange.upstreamSeconds)
        entry.requestID = state.requestID
        resources.accessLog.append(entry)
    }

    func proxyPauseClientReads(_ paused: Bool) {
        guard let state = proxy, state.clientReadsPaused != paused else { return }
        state.clientReadsPaused = paused
        if !paused && readDeferred {
            readDeferred = false
            context.read()
        }
    }

    private func finishProxy(closes: Bool) {
        guard let state = proxy else { return }
        logProxied(state, status: state.exchange.upstreamStatus ?? 0, now: context.eventLoop.now)
        proxy = nil
        request = nil
        needsFlush = true
        perform(self.state.responseWritten(responseClosesConnection: closes).action, context: context)
        // Pipelined requests that waited for this response; their answers are flushed here, as this runs outside
        // the client's read cycle.
        processEvents(context: context)
        flushIfNeeded(context: context)
    }

    /// 128 random bits as 32 hex digits. A per-thread generator seeded from the system avoids two `getrandom`
    /// system calls per request (they showed in the proxy profile); request ids need uniqueness, not secrecy.
    static func newRequestID() -> String {
        RequestIDGenerator.current.next()
    }
}
