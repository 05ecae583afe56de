import Logging
import NIOCore
import Shared

/// What a proxied request needs of the client connection it answers. The connection keeps the framing of requests,
/// keep-alive, timers and the order of responses; the proxied request tells it what to write and how it ended.
protocol ProxiedRequestConnection: AnyObject {
    var clientIsWritable: Bool { get }
    /// For the buffers of the response; `nil` once the connection has left its pipeline.
    var allocator: ByteBufferAllocator? { get }
    /// Whether the connection will stay open after a response that, by itself, would close it if `closes`.
    func willKeepAlive(responseClosesConnection closes: Bool) -> Bool
    /// Queues bytes for the client; they go out at the connection's next flush.
    func writeToClient(_ bytes: ByteBuffer)
    /// Sends what was queued: the end of an upstream read burst.
    func flushToClient()
    /// Holds back, or resumes, reading the client (its request body).
    func pauseClientReads(_ paused: Bool)
    /// The whole response has been queued; the connection closes after it if `closesConnection`.
    func proxiedResponseEnded(closesConnection: Bool)
    /// The request failed (logged already): the connection answers it, or cuts the response if it had begun.
    func proxiedRequestFailed(_ failure: ProxyFailure)
    /// The upstream switched protocols (101): the connection answers and becomes a tunnel.
    func proxiedRequestUpgraded(_ head: ResponseHead, upstream: UpstreamConnection)
}

/// One request on its way through the proxy, as its client connection sees it: the request body forwarded to the
/// `ProxyExchange` within `max_body_size`, and the upstream's response turned into what the client gets (Edge's own
/// fields, the framing HTTP/1.x needs, gzip on the way out), with back-pressure both ways.
///
/// It owns every piece of state a proxied request has; the connection holds it while the request is in progress and
/// learns how it ended through `ProxiedRequestConnection`.
final class ProxiedRequest: ProxyClient {
    /// What the client sent that the response depends on, read once when the request arrived.
    struct Request {
        /// `X-Request-ID`, sent upstream and returned to the client.
        let id: String
        /// The W3C trace id sent upstream, for the logs.
        let traceID: String?
        /// The client's address as `real_ip` decided it, for the access log.
        let clientAddress: String
        /// The TCP peer, for the error log.
        let peerAddress: String
        /// The request's fields as read once (with `Referer` and `User-Agent` when logging).
        let facts: RequestHeaderFacts
        let minorVersion: Int
        let isHEAD: Bool
    }

    /// Small body pieces join the held head; anything else goes out behind it.
    private static let mergedBodyLimit = 4096

    let request: Request
    private let exchange: ProxyExchange
    private let settings: ConnectionSettings
    private let resources: LoopResources
    private let hstsHeaderLine: ByteBuffer?
    /// Strong, and dropped when the request ends: the connection holds this object only while it is in progress.
    private var connection: (any ProxiedRequestConnection)?

    /// The client's request (head, body, end) has fully arrived.
    private(set) var requestEnded = false
    private var bodyBytes = 0
    /// A response head went to the client: a failure now can only cut the response.
    private(set) var headSent = false
    /// Response body bytes written to the client, for the access log.
    private(set) var responseBytes = 0
    private(set) var clientReadsPaused = false
    /// The response head, held until the first body piece or the end of the upstream's read burst, so that a small
    /// response leaves in one buffer and one `write` rather than a two-part `writev`.
    private var pendingHead: ByteBuffer?
    private var chunked = false
    private var keepAlive = false
    /// Set while the response is gzipped on its way through.
    private var gzip: GzipEncoder?
    /// The upstream's error response was replaced by an `error_pages` page: its body is read and dropped.
    private var intercepted = false

    /// The proxied request for a head that has arrived, for any client connection (HTTP/1.x, or a stream of an
    /// HTTP/2 one): the fields the upstream gets are decided from the head and the connection's peer
    /// (`ProxyHeaders`), and the exchange that will carry it is made ready. `start` sends it.
    init(
        _ head: RequestHead, facts: RequestHeaderFacts, upstream: String, pool: UpstreamPool,
        peer: inout ConnectionPeer, scheme: String, settings: ConnectionSettings, resources: LoopResources,
        hstsHeaderLine: ByteBuffer?, eventLoop: any EventLoop, allocator: ByteBufferAllocator,
        connection: any ProxiedRequestConnection
    ) {
        let client = ProxyHeaders.clientFacts(
            peer: peer.address, trusted: peer.isTrusted(by: settings.realIP), head: head, realIP: settings.realIP,
            scheme: scheme, port: peer.localPort, traceContext: settings.traceContext,
            newRequestID: RequestIDGenerator.newRequestID)
        self.exchange = ProxyExchange(
            upstream: upstream, request: UpstreamRequest(head, client: client, allocator: allocator),
            requestID: client.requestID, pool: pool, eventLoop: eventLoop,
            responseTimeout: settings.upstreamResponseTimeout, logger: settings.logger)
        self.request = Request(
            id: client.requestID, traceID: client.trace?.traceID, clientAddress: client.address,
            peerAddress: peer.address, facts: facts, minorVersion: head.minorVersion, isHEAD: head.method.isHEAD)
        self.settings = settings
        self.resources = resources
        self.hstsHeaderLine = hstsHeaderLine
        self.connection = connection
    }

    func start() {
        exchange.start(for: self)
    }

    /// The upstream's status, 0 if none came: what the client saw of a response that had begun.
    var upstreamStatus: Int { exchange.upstreamStatus ?? 0 }

    /// What the access log says of the upstream (built only when a line is written: naming the server makes a
    /// string).
    var upstreamFacts: AccessLogEntry.UpstreamFacts {
        .init(
            address: exchange.serverName ?? "-", status: exchange.upstreamStatus ?? 0,
            seconds: exchange.upstreamSeconds)
    }

    // MARK: - From the client

    /// A piece of the request body. Returns false when it made the body too large: the request failed.
    func clientBody(_ body: ByteBuffer) -> Bool {
        guard !requestEnded else { return true }
        bodyBytes += body.readableBytes
        guard bodyBytes <= settings.maxBodySize else {
            // A chunked body grew past the limit: the upstream never gets more than this.
            fail(.requestBodyTooLarge(limit: settings.maxBodySize))
            return false
        }
        exchange.clientBody(body)
        return true
    }

    func clientEnd() {
        requestEnded = true
        exchange.clientEnd()
    }

    func clientBecameWritable() {
        exchange.clientBecameWritable()
    }

    /// The client went away: the upstream request is abandoned, nothing more is written.
    func clientLeft() {
        exchange.cancel()
        gzip?.release()
        gzip = nil
        connection = nil
    }

    /// Ends the request with `failure` (the exchange is abandoned if still running): logged once here, then
    /// answered or cut by the connection.
    func fail(_ failure: ProxyFailure) {
        guard let connection else { return }  // it ended already
        self.connection = nil
        exchange.cancel()
        gzip?.release()
        gzip = nil
        let metadata: Logger.Metadata = [
            "upstream": "\(exchange.upstream)", "server": "\(exchange.serverName ?? "-")",
            "cause": "\(failure.cause)", "status": "\(failure.status.code)", "request_id": "\(request.id)",
            "client": "\(request.peerAddress)",
        ]
        .merging(request.traceID.map { ["trace_id": "\($0)"] } ?? [:]) { first, _ in first }
        if failure.isClientsFault {
            settings.logger.info("proxied request refused", metadata: metadata)
        } else {
            settings.logger.error("proxy failed", metadata: metadata)
        }
        connection.proxiedRequestFailed(failure)
    }

    // MARK: - ProxyClient: from the upstream

    var clientIsWritable: Bool { connection?.clientIsWritable ?? false }

    func proxyResponseHead(_ upstreamHead: ResponseHead) {
        guard let connection, let allocator = connection.allocator else { return }
        if settings.interceptUpstreamErrors, upstreamHead.status >= 400,
            let page = settings.errorPages[upstreamHead.status]
        {
            sendErrorPage(page, for: upstreamHead, connection: connection, allocator: allocator)
            return
        }
        // The upstream's framing is undone; a body of unknown length is chunked again for HTTP/1.1 clients, and
        // delimited by closing the connection for HTTP/1.0 ones.
        let unknownLength: Bool
        switch upstreamHead.bodyFraming {
        case .chunked, .untilClose: unknownLength = true
        case .none, .length: unknownLength = false
        }
        let compression = settings.compression.decide(
            proxied: upstreamHead, acceptsGzip: request.facts.acceptsGzip, clientIsHTTP10: request.minorVersion == 0)
        let hasBody = upstreamHead.bodyFraming != .none
        if compression == .gzip && hasBody {
            do {
                gzip = try resources.gzipStreams.take()
            } catch {
                settings.logger.error("gzip failed; sending uncompressed", metadata: ["error": "\(error)"])
            }
        }
        let compressing = gzip != nil
        chunked = (unknownLength || compressing) && request.minorVersion == 1
        keepAlive = connection.willKeepAlive(responseClosesConnection: unknownLength && request.minorVersion == 0)
        var bytes = HeadBytes(capacity: upstreamHead.headers.byteCount + 320)
        // The app's own HSTS policy, if it sends one, wins over the listener's.
        let useListenersHSTS =
            hstsHeaderLine != nil && upstreamHead.headers.first("strict-transport-security") == nil
        appendHeadStart(upstreamHead, hsts: useListenersHSTS, to: &bytes)
        if compression == .untouched || (compression == .gzip && hasBody && !compressing) {
            ProxyHeaders.writeClientResponseFields(upstreamHead, into: &bytes)
        } else {
            var fields = allocator.buffer(capacity: upstreamHead.headers.byteCount + 64)
            ProxyHeaders.writeClientResponseFields(upstreamHead, into: &fields)
            var rewritten = allocator.buffer(capacity: upstreamHead.headers.byteCount + 128)
            GzipHeaderFilter.rewrite(fields, for: compression, into: &rewritten)
            bytes.append(rewritten)
        }
        // A HEAD answer carries the framing a GET would get.
        let headOfGzip = compression == .gzip && request.isHEAD
        if chunked || headOfGzip { bytes.append("Transfer-Encoding: chunked\r\n") }
        appendHeadEnd(to: &bytes)
        // Room for a small first body piece only where `proxyResponseBody` may append one, and no more than the
        // body can need: a buffer past malloc's small sizes (4 KiB and up) cost more to get and free than the rest
        // of the head.
        let mergeRoom: Int
        if gzip != nil || chunked || !hasBody {
            mergeRoom = 0
        } else if case .length(let length) = upstreamHead.bodyFraming {
            mergeRoom = min(length, Self.mergedBodyLimit)
        } else {
            mergeRoom = Self.mergedBodyLimit
        }
        var head = allocator.buffer(capacity: bytes.count + mergeRoom)
        head.writeHead(bytes)
        headSent = true
        pendingHead = head
    }

    func proxyResponseBody(_ body: ByteBuffer) {
        guard let connection, body.readableBytes > 0, !intercepted else { return }
        if gzip == nil && !chunked && writePendingHead(appending: body) {
            // A small first piece left together with the held head.
            responseBytes += body.readableBytes
            return
        }
        _ = writePendingHead()
        if let gzip, let allocator = connection.allocator {
            writeCompressed { try gzip.chunk(body, allocator: allocator) }
            return
        }
        responseBytes += body.readableBytes
        guard chunked else {
            connection.writeToClient(body)
            return
        }
        var framed = connection.allocator?.buffer(capacity: body.readableBytes + 16) ?? ByteBuffer()
        framed.writeString(String(body.readableBytes, radix: 16))
        framed.writeStaticString("\r\n")
        framed.writeImmutableBuffer(body)
        framed.writeStaticString("\r\n")
        // Flushed when the upstream's read burst ends (`proxyFlush`), so a streamed response (server-sent events)
        // reaches the client as it is produced, at one flush per burst rather than per piece.
        connection.writeToClient(framed)
    }

    func proxyFlush() {
        guard let connection else { return }
        _ = writePendingHead()
        if let gzip, let allocator = connection.allocator {
            writeCompressed { try gzip.flush(allocator: allocator) }
        }
        self.connection?.flushToClient()
    }

    func proxyResponseEnd() {
        guard let connection else { return }
        _ = writePendingHead()
        if let gzip, let allocator = connection.allocator {
            writeCompressed { try gzip.finish(allocator: allocator) }
            self.gzip = nil
            guard self.connection != nil else { return }  // the stream failed and the request with it
        } else if chunked {
            connection.writeToClient(ByteBuffer(string: "0\r\n\r\n"))
        }
        self.connection = nil
        // A response that ends before the client finished its request leaves the body unread: close then.
        connection.proxiedResponseEnded(closesConnection: !keepAlive || !requestEnded)
    }

    func proxyFailed(_ failure: ProxyFailure) {
        fail(failure)
    }

    func proxyPauseClientReads(_ paused: Bool) {
        guard clientReadsPaused != paused else { return }
        clientReadsPaused = paused
        connection?.pauseClientReads(paused)
    }

    func proxyUpgraded(_ head: ResponseHead, upstream: UpstreamConnection) {
        let connection = self.connection
        self.connection = nil
        connection?.proxiedRequestUpgraded(head, upstream: upstream)
    }

    // MARK: - Writing

    /// `intercept_upstream_errors`: the client gets the configured page with the upstream's status, as nginx's
    /// `proxy_intercept_errors`; the upstream's own body is read (so its connection can be reused) and dropped.
    private func sendErrorPage(
        _ page: ErrorPages.Page, for upstreamHead: ResponseHead, connection: any ProxiedRequestConnection,
        allocator: ByteBufferAllocator
    ) {
        intercepted = true
        keepAlive = connection.willKeepAlive(responseClosesConnection: false)
        var bytes = HeadBytes(capacity: 320)
        appendHeadStart(upstreamHead, hsts: true, to: &bytes)
        bytes.append("Content-Type: ")
        bytes.append(string: page.contentType)
        bytes.append("\r\nContent-Length: ")
        bytes.append(decimal: page.body.readableBytes)
        bytes.append("\r\n")
        appendHeadEnd(to: &bytes)
        var head = allocator.buffer(capacity: bytes.count + page.body.readableBytes)
        head.writeHead(bytes)
        if !request.isHEAD {
            head.writeImmutableBuffer(page.body)
            responseBytes = page.body.readableBytes
        }
        headSent = true
        connection.writeToClient(head)
    }

    /// The status line with the upstream's status, `Server`, `Date` and (when `hsts`) the listener's HSTS line.
    private func appendHeadStart(_ upstreamHead: ResponseHead, hsts: Bool, to bytes: inout HeadBytes) {
        bytes.append("HTTP/1.1 ")
        bytes.append(decimal: upstreamHead.status)
        bytes.append(" ")
        bytes.append(upstreamHead.reason)
        bytes.append("\r\nServer: edge\r\n")
        bytes.append(resources.dates.dateHeaderLine())
        if hsts, let hstsHeaderLine { bytes.append(hstsHeaderLine) }
    }

    /// `X-Request-ID`, the `Connection` field the client's version and `keepAlive` call for, and the head's end.
    private func appendHeadEnd(to bytes: inout HeadBytes) {
        bytes.append("X-Request-ID: ")
        bytes.append(string: request.id)
        bytes.append("\r\n")
        if !keepAlive {
            bytes.append("Connection: close\r\n")
        } else if request.minorVersion == 0 {
            bytes.append("Connection: keep-alive\r\n")
        }
        bytes.append("\r\n")
    }

    /// Writes the held response head, with `body` appended when it is small. Returns whether `body` went with it.
    private func writePendingHead(appending body: ByteBuffer? = nil) -> Bool {
        guard var head = pendingHead, let connection else { return false }
        pendingHead = nil
        var merged = false
        if var body, body.readableBytes <= Self.mergedBodyLimit {
            head.writeBuffer(&body)
            merged = true
        }
        connection.writeToClient(head)
        return merged
    }

    /// Writes what the gzip stream produced; a failing stream ends the response the only honest way left.
    private func writeCompressed(_ produce: () throws -> ByteBuffer) {
        do {
            let chunk = try produce()
            guard chunk.readableBytes > 0 else { return }
            responseBytes += chunk.readableBytes
            connection?.writeToClient(chunk)
        } catch {
            fail(.compressionFailed(reason: "\(error)"))
        }
    }
}
