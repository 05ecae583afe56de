import HTTPTypes
import NIOCore
import Shared

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
        log.append(
            AccessLogEntry(
                remoteAddress: exchange.client, time: dates.accessLogTime(), method: head.method.rawValue,
                uri: head.target,
                version: head.versionText, status: exchange.status, bodyBytesSent: exchange.bodyBytes,
                referer: head.headers.first("referer"), userAgent: head.headers.first("user-agent"),
                requestTime: Double((context.eventLoop.now - exchange.start).nanoseconds) / 1e9))
    }
}
