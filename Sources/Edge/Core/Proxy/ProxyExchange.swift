import Logging
import NIOCore
import NIOHTTP1
import Shared

/// A request as it goes upstream: its head already encoded, and what the exchange must know about it.
struct UpstreamRequest {
    var head: ByteBuffer
    var method: HTTPMethod
    /// The client sends a chunked body, so the pieces are chunk-framed again on the way up.
    var chunkedBody: Bool
    /// The client asked to switch protocols (`Connection: upgrade`), so a 101 makes a tunnel.
    var isUpgrade: Bool
}

extension UpstreamRequest {
    /// The upstream's request for the client's `head`, with the fields `client` decides (`ProxyHeaders`). Inlined:
    /// as a call of its own it copied `client` on every proxied request.
    @inline(__always)
    init(_ head: RequestHead, client: ClientFacts, allocator: ByteBufferAllocator) {
        var encoded = allocator.buffer(capacity: head.headers.byteCount + 384)
        ProxyHeaders.writeUpstreamRequest(head, client: client, into: &encoded)
        self.init(
            head: encoded, method: head.method, chunkedBody: head.bodyFraming == .chunked,
            isUpgrade: head.connectionOptions.contains("upgrade") && head.headers.first("upgrade") != nil)
    }
}

/// The client side of a proxied exchange: the connection handler that writes the upstream's response.
protocol ProxyClient: AnyObject {
    var clientIsWritable: Bool { get }
    func proxyResponseHead(_ head: ResponseHead)
    func proxyResponseBody(_ body: ByteBuffer)
    func proxyResponseEnd()
    /// The upstream's read burst is over: what was written to the client goes out now.
    func proxyFlush()
    /// The exchange failed; its status is for the client if no response head was sent yet.
    func proxyFailed(_ failure: ProxyFailure)
    func proxyPauseClientReads(_ paused: Bool)
    /// The upstream switched protocols (101): from now on the two connections are a byte tunnel.
    func proxyUpgraded(_ head: ResponseHead, upstream: UpstreamConnection)
}

/// One request proxied to an upstream: leases a pooled connection on the client's own event loop, streams the
/// request body up and the response down with back-pressure both ways, retries only when that is safe, and reports
/// every failure as a `ProxyFailure` (which decides the status and whether a retry is safe).
final class ProxyExchange: UpstreamListener {
    private enum Phase {
        case connecting, awaitingResponse, streamingResponse, done
    }

    let upstream: String
    private let request: UpstreamRequest
    private let requestID: String
    private let pool: UpstreamPool
    /// Strong, and dropped as soon as the exchange is done: weak references cost slow-path reference counting on
    /// every call (it showed in the proxy profile), and the exchange never outlives its `done` phase's bookkeeping.
    private var client: (any ProxyClient)?
    private let eventLoop: any EventLoop
    private let responseTimeout: TimeAmount
    private let logger: Logger
    private var phase = Phase.connecting
    private var connection: UpstreamConnection?
    private var reused = false
    private var tried: [PooledServer] = []
    private var attempts = 0
    private var pendingBody: [ByteBuffer] = []
    private var pendingBytes = 0
    private var clientEnded = false
    private var bodyBytesForwarded = 0
    private var waitingForClientWritability = false
    private var upstreamKeepAlive = false
    private var switchingHead: ResponseHead?
    /// For the access log: which server answered and with what.
    private var chosen: PooledServer?
    /// The chosen server's name for the logs, `nil` before one is chosen.
    var serverName: String? { chosen?.name }
    private(set) var upstreamStatus: Int?
    private var startedAt: NIODeadline?
    /// When the request went to the server, for `edge_upstream_response_duration_seconds`.
    private var sentAt: NIODeadline?
    private(set) var upstreamSeconds: Double = 0

    init(
        upstream: String, request: UpstreamRequest, requestID: String, pool: UpstreamPool, eventLoop: any EventLoop,
        responseTimeout: TimeAmount, logger: Logger
    ) {
        self.upstream = upstream
        self.request = request
        self.requestID = requestID
        self.pool = pool
        self.eventLoop = eventLoop
        self.responseTimeout = responseTimeout
        self.logger = logger
    }

    /// For the access log's `upstream_time`: from the first attempt until the exchange ended, however it ended.
    private func noteUpstreamTime() {
        upstreamSeconds = Double(((startedAt.map { eventLoop.now - $0 }) ?? .zero).nanoseconds) / 1e9
    }

    /// Sends the request upstream; `client` gets the response.
    func start(for client: any ProxyClient) {
        self.client = client
        attempt()
    }

    private func attempt() {
        if startedAt == nil { startedAt = eventLoop.now }
        attempts += 1
        guard let server = pool.choose(upstream, excluding: tried) else {
            finishWithFailure(.noServerReachable(upstream: upstream))
            return
        }
        chosen = server
        if attempts > 1 { pool.metrics?.upstreamEvent(.retry, server: server.name) }
        if let idle = pool.takeIdle(server) {
            use(idle, reused: true)
            return
        }
        pool.connect(server) { [self] result in
            guard phase != .done else {
                if case .success(let connection) = result {
                    pool.release(connection, reusable: true)
                } else {
                    pool.abandon(server)
                }
                return
            }
            switch result {
            case .failure(let error):
                pool.connectFailed(server, reason: "\(error)")
                tried.append(server)
                let failure = ProxyFailure.connectFailed(server: "\(server.server)", reason: "\(error)")
                if pool.choose(upstream, excluding: tried) != nil && mayRetry(after: failure) {
                    attempt()
                } else {
                    finishWithFailure(failure)
                }
            case .success(let connection):
                use(connection, reused: false)
            }
        }
    }

    private func use(_ leased: UpstreamConnection, reused: Bool) {
        connection = leased
        self.reused = reused
        leased.listener = self
        send()
    }

    /// Sends the head with whatever body already arrived, in one write.
    private func send() {
        guard let connection else { return }
        phase = .awaitingResponse
        if pool.loopMetrics != nil { sentAt = eventLoop.now }
        var bytes = request.head
        for body in pendingBody { frame(body, into: &bytes) }
        if clientEnded && request.chunkedBody { bytes.writeStaticString("0\r\n\r\n") }
        bodyBytesForwarded += pendingBytes
        pendingBody = []
        pendingBytes = 0
        connection.send(bytes, respondingToHEAD: request.method.isHEAD)
        client?.proxyPauseClientReads(false)
        if clientEnded { startResponseTimer() }
    }

    /// Appends a body piece as it goes upstream: as is, or as one chunk when the client's body was chunked.
    private func frame(_ body: ByteBuffer, into bytes: inout ByteBuffer) {
        guard request.chunkedBody else {
            bytes.writeImmutableBuffer(body)
            return
        }
        bytes.writeString(String(body.readableBytes, radix: 16))
        bytes.writeStaticString("\r\n")
        bytes.writeImmutableBuffer(body)
        bytes.writeStaticString("\r\n")
    }

    /// `timeouts.upstream_response` runs from the moment the whole request is upstream (while the body still
    /// streams, `timeouts.body` watches the client instead), and then between reads of the response body.
    private func startResponseTimer() {
        connection?.expectResponse(within: responseTimeout)
    }

    func upstreamTimedOut() {
        switch phase {
        case .awaitingResponse:
            finishWithFailure(.responseTimeout)
        case .streamingResponse:
            // The head is out, so the client sees the response cut short (its connection closes), never a whole one.
            finishWithFailure(.responseStalled)
        case .connecting, .done:
            return
        }
    }

    /// A piece of the request body from the client.
    func clientBody(_ body: ByteBuffer) {
        guard phase != .done else { return }
        guard let channel = connection?.channel, phase != .connecting else {
            pendingBody.append(body)
            pendingBytes += body.readableBytes
            // Hold the client until the upstream connection is there.
            if pendingBytes > 256 * 1024 { client?.proxyPauseClientReads(true) }
            return
        }
        bodyBytesForwarded += body.readableBytes
        if request.chunkedBody {
            var framed = channel.allocator.buffer(capacity: body.readableBytes + 16)
            frame(body, into: &framed)
            channel.writeAndFlush(framed, promise: nil)
        } else {
            channel.writeAndFlush(body, promise: nil)
        }
        // The upstream is full: stop reading from the client until it drains (upstreamBecameWritable).
        if !channel.isWritable { client?.proxyPauseClientReads(true) }
    }

    func upstreamBecameWritable() {
        client?.proxyPauseClientReads(false)
    }

    func clientEnd() {
        clientEnded = true
        guard phase == .awaitingResponse || phase == .streamingResponse, let channel = connection?.channel else {
            return
        }
        if request.chunkedBody { channel.writeAndFlush(ByteBuffer(string: "0\r\n\r\n"), promise: nil) }
        startResponseTimer()
    }

    /// The client can take more: pull the next piece of the response.
    func clientBecameWritable() {
        guard waitingForClientWritability else { return }
        waitingForClientWritability = false
        connection?.pauseReads(false)
    }

    /// The client went away or the request was refused: abandon the upstream request (no leaked connection).
    func cancel() {
        guard phase != .done else { return }
        phase = .done
        noteUpstreamTime()
        if let connection { pool.release(connection, reusable: false) }
        connection = nil
        client = nil
    }

    // MARK: - UpstreamListener

    func upstreamReceived(_ event: HTTP1ResponseParser.Event) {
        guard phase == .awaitingResponse || phase == .streamingResponse else { return }
        switch event {
        case .head(let head) where head.status == 101 && request.isUpgrade:
            // The tunnel starts after the parser has delivered this response's end, so no HTTP part reaches it.
            switchingHead = head
            upstreamStatus = 101
        case .end where switchingHead != nil:
            phase = .done
            noteUpstreamTime()
            guard let connection, let head = switchingHead else { return }
            self.connection = nil
            pool.detach(connection)  // a tunnel never returns to the pool
            let client = self.client
            self.client = nil
            client?.proxyUpgraded(head, upstream: connection)
        case .head(let head) where head.status == 101:
            finishWithFailure(.malformedResponse(detail: "101 to a request that asked for no upgrade"))
        case .head(let head):
            phase = .streamingResponse
            upstreamStatus = head.status
            if let metrics = pool.loopMetrics, let sentAt, let server = chosen {
                metrics.upstreamResponded(server: server.metricsID, nanoseconds: (eventLoop.now - sentAt).nanoseconds)
            }
            upstreamKeepAlive = head.keepAlive
            client?.proxyResponseHead(head)
        case .body(let body):
            client?.proxyResponseBody(body)
        case .end:
            phase = .done
            noteUpstreamTime()
            // Reusable only if the upstream keeps it alive and our request went out whole.
            if let connection {
                if connection.surplusBytes > 0 { warnAboutSurplus(connection) }
                pool.release(connection, reusable: upstreamKeepAlive && clientEnded)
            }
            connection = nil
            let client = self.client
            self.client = nil
            client?.proxyResponseEnd()
        }
    }

    /// The client got the response the upstream framed; what came after it is dropped with the connection (nginx:
    /// "upstream sent more data than specified").
    private func warnAboutSurplus(_ connection: UpstreamConnection) {
        logger.warning(
            "upstream sent more than its response; closing the connection instead of reusing it",
            metadata: [
                "upstream": "\(upstream)", "server": "\(connection.server)",
                "surplus_bytes": "\(connection.surplusBytes)",
                "request_id": "\(requestID)",
            ])
    }

    func upstreamReadComplete() {
        guard phase == .awaitingResponse || phase == .streamingResponse, let connection else { return }
        client?.proxyFlush()
        // Back-pressure: the upstream is read only as fast as the client takes the response.
        if !(client?.clientIsWritable ?? true) {
            waitingForClientWritability = true
            connection.pauseReads(true)
        }
    }

    func upstreamClosed(error: (any Error)?) {
        guard phase == .awaitingResponse || phase == .streamingResponse else { return }
        let failure: ProxyFailure
        if let malformed = error as? HTTP1ParseError {
            failure = .malformedResponse(detail: "\(malformed)")
        } else {
            let reason = error.map { "\($0)" } ?? "upstream closed the connection"
            failure =
                phase == .awaitingResponse ? .closedBeforeResponse(reason: reason) : .closedMidResponse(reason: reason)
        }
        if mayRetry(after: failure) {
            // A pooled connection the upstream had closed while idle: the request never reached the app.
            if let connection { pool.release(connection, reusable: false) }
            connection = nil
            phase = .connecting
            attempt()
            return
        }
        finishWithFailure(failure)
    }

    private func mayRetry(after failure: ProxyFailure) -> Bool {
        failure.allowsRetry(
            attempts: attempts, connectionWasReused: reused, method: request.method, bodyBytesSent: bodyBytesForwarded)
    }

    private func finishWithFailure(_ failure: ProxyFailure) {
        guard phase != .done else { return }
        phase = .done
        noteUpstreamTime()
        if let metrics = pool.metrics, let kind = failure.upstreamFailureKind {
            metrics.upstreamEvent(.failure(kind), server: chosen?.name ?? upstream)
        }
        if let connection { pool.release(connection, reusable: false) }
        connection = nil
        upstreamStatus = upstreamStatus ?? 0
        let client = self.client
        self.client = nil
        client?.proxyFailed(failure)
    }
}
