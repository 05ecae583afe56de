import NIOCore
import NIOHPACK
import NIOHTTP2
import Shared

/// Bridges one HTTP/2 stream to Edge's HTTP/1 connection handler: the request's HEADERS and DATA frames become an
/// HTTP/1.1 request, and the HTTP/1.1 response the handler writes becomes HEADERS and DATA frames.
///
/// So every feature (routing, static files with Range and conditionals, the proxy and its pool, limits, timeouts,
/// compression, the access log) behaves over HTTP/2 exactly as over HTTP/1.1, from one implementation. The price is
/// one serialisation and parse per request head, small beside TLS. Flow control needs no code here: the stream
/// channel's writability follows the peer's window and the handler already waits on writability.
final class HTTP2StreamBridge: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var requestStarted = false
    /// A request body without `content-length` is sent on as HTTP/1.1 chunks.
    private var chunkedRequestBody = false
    private var responseFramer = HTTP2ResponseFramer()
    private var responseEnded = false
    /// Completes when the frame ending the response has gone to the connection (after flow control allowed it).
    private var responseWritten: EventLoopFuture<Void>?

    // MARK: - Request: frames to HTTP/1.1 bytes

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            if !requestStarted {
                startRequest(headers.headers, endStream: headers.endStream, context: context)
            } else if headers.endStream {
                // Trailers: HTTP/1 gets the body's end; Edge does not forward request trailers.
                guard HTTP2RequestTranslation.isValidTrailers(headers.headers) else {
                    resetMalformedStream(reason: "HTTP/2 trailers with a pseudo-field or a forbidden field", context)
                    return
                }
                endRequestBody(context: context)
            }
        case .data(let frame):
            // After the response is complete (a refusal, or a 413 before the body ended) the rest is dropped.
            guard requestStarted, !responseEnded, case .byteBuffer(let bytes) = frame.data else { return }
            if chunkedRequestBody && bytes.readableBytes > 0 {
                var chunk = context.channel.allocator.buffer(capacity: bytes.readableBytes + 16)
                chunk.writeString(String(bytes.readableBytes, radix: 16))
                chunk.writeStaticString("\r\n")
                chunk.writeImmutableBuffer(bytes)
                chunk.writeStaticString("\r\n")
                context.fireChannelRead(wrapInboundOut(chunk))
            } else if bytes.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(bytes))
            }
            if frame.endStream { endRequestBody(context: context) }
        default:
            break
        }
    }

    private func startRequest(_ fields: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        requestStarted = true
        guard let request = HTTP2RequestTranslation.http1Request(from: fields, hasBody: !endStream) else {
            // Malformed for HTTP/2 (missing pseudo-fields, forbidden characters): answered here, nothing forwarded.
            respondDirectly(status: 400, context: context)
            return
        }
        chunkedRequestBody = request.chunkedBody
        responseFramer.expectResponse(toHEAD: request.isHEAD)
        context.fireChannelRead(wrapInboundOut(request.bytes))
    }

    private func endRequestBody(context: ChannelHandlerContext) {
        if chunkedRequestBody {
            context.fireChannelRead(wrapInboundOut(ByteBuffer(string: "0\r\n\r\n")))
            chunkedRequestBody = false
        }
    }

    /// A stream NIO resets for breaking HTTP/2's rules (DATA longer or shorter than `content-length`, say) closes
    /// with `PROTOCOL_ERROR`: the request's fault, and said so. A client that gives up resets with `CANCEL`.
    /// (A client may also send `PROTOCOL_ERROR` itself, blaming Edge's response; rare, and logged the same way.)
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let closed = error as? NIOHTTP2Errors.StreamClosed, closed.errorCode == .protocolError {
            context.fireErrorCaught(MalformedRequestError(reason: "HTTP/2 stream reset for a protocol error"))
        } else {
            context.fireErrorCaught(error)
        }
    }

    /// Resets the stream as NIO does for a protocol error (RST_STREAM `PROTOCOL_ERROR`) and tells the handler
    /// behind, which logs the request as malformed.
    private func resetMalformedStream(reason: String, _ context: ChannelHandlerContext) {
        responseEnded = true
        context.writeAndFlush(wrapOutboundOut(.rstStream(.protocolError)), promise: nil)
        context.fireErrorCaught(MalformedRequestError(reason: reason))
    }

    private func respondDirectly(status: Int, context: ChannelHandlerContext) {
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: String(status))
        responseEnded = true
        let written = context.eventLoop.makePromise(of: Void.self)
        responseWritten = written.futureResult
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: written)
    }

    // MARK: - Response: HTTP/1.1 bytes to frames

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(let bytes) = unwrapOutboundIn(data) else {
            promise?.fail(ChannelError.operationUnsupported)
            return
        }
        guard !responseEnded else {
            // The barrier the handler writes before closing: it completes once the response has really left, so
            // closing the stream never cuts off frames still waiting for the peer's window.
            context.flush()
            if let responseWritten { responseWritten.cascade(to: promise) } else { promise?.succeed(()) }
            return
        }
        var frames: [HTTP2Frame.FramePayload]
        do {
            frames = try responseFramer.frames(for: bytes)
        } catch {
            // Edge wrote something it cannot parse back: a bug, not the client's fault; reset the stream.
            promise?.fail(error)
            context.close(promise: nil)
            return
        }
        responseEnded = responseFramer.ended
        guard let last = frames.popLast() else {
            promise?.succeed(())
            return
        }
        for frame in frames { context.write(wrapOutboundOut(frame), promise: nil) }
        if responseEnded {
            let written = context.eventLoop.makePromise(of: Void.self)
            responseWritten = written.futureResult
            written.futureResult.cascade(to: promise)
            context.write(wrapOutboundOut(last), promise: written)
        } else {
            context.write(wrapOutboundOut(last), promise: promise)
        }
    }

    /// A flush with a head still held back (a proxied response whose body has not started) sends the head, so
    /// server-sent events and long polls see it at once.
    func flush(context: ChannelHandlerContext) {
        if let head = responseFramer.takeHeldHead() { context.write(wrapOutboundOut(head), promise: nil) }
        context.flush()
    }
}
