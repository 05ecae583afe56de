import Logging
import NIOCore
import NIOHTTP2
import Shared

/// Ends an HTTP/2 connection once Edge has sent a GOAWAY with an error code, whoever decided it (swift-nio-http2's
/// checks or Edge's own handlers): the GOAWAY names the highest stream Edge processed, nothing is read or written
/// after it, and the TCP connection is closed soon after, whether or not the client reads.
///
/// swift-nio-http2 only sends the GOAWAY and reports the error; left open, the connection kept being read, and each
/// read buffered more bytes and drew another GOAWAY: one client filled gigabytes (CONTINUATION and HPACK floods,
/// rapid reset, SETTINGS and PING floods). Sits between TLS and the HTTP/2 handler, on the encoded bytes.
final class HTTP2ErrorCloseHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// How long a condemned connection may take to close: the GOAWAY's flush, then the FIN. nginx closes in
    /// 38-75 ms; the bound matters only for a client that does not read.
    static let closeDeadline = TimeAmount.milliseconds(500)

    private enum State {
        case serving
        case closing(Closing)
        case closed
    }

    private struct Closing {
        let errorCode: UInt32
        let client: String
        var reason: String?
        var deadline: Scheduled<Void>?
    }

    private var state = State.serving
    /// Kept outside `state`: mutated in place on every write, where a copy taken out of the enum would copy its
    /// buffer too.
    private var boundaries = HTTP2FrameBoundaries()
    private let streams: HTTP2StreamTracker
    private let resources: LoopResources
    private let logger: Logger

    /// `streams` knows the highest stream this connection opened.
    init(streams: HTTP2StreamTracker, resources: LoopResources, logger: Logger) {
        self.streams = streams
        self.resources = resources
        self.logger = logger
    }

    // MARK: - Inbound: nothing after the GOAWAY

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .serving = state else { return }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard case .serving = state else { return }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        guard case .serving = state else { return }
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    // MARK: - Outbound: the GOAWAY and nothing else

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .serving = state else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        let goAway: HTTP2FrameBoundaries.ErrorGoAway?
        var bytes = unwrapOutboundIn(data)
        switch bytes {
        case .byteBuffer(var buffer):
            goAway = boundaries.scan(buffer)
            if let index = goAway?.lastStreamIDIndex {
                buffer.setInteger(UInt32(Int32(streams.highestStreamID)), at: index)
                bytes = .byteBuffer(buffer)
            }
        case .fileRegion(let region):
            boundaries.skip(region.readableBytes)
            goAway = nil
        }
        guard let goAway else {
            context.write(wrapOutboundOut(bytes), promise: promise)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.cascade(to: promise)
        beginClosing(errorCode: goAway.errorCode, context: context)
        context.write(wrapOutboundOut(bytes), promise: written)
        written.futureResult.assumeIsolated().whenComplete { [self] result in
            guard case .closing = state else { return }
            // The GOAWAY has reached the socket: a FIN follows it, so a client that reads sees both at once.
            if case .success = result {
                closeTransport(.output, context: context)
            } else {
                closeTransport(.all, context: context)
            }
        }
    }

    /// The error that caused the GOAWAY, from `HTTP2ErrorReasonRelay` behind the HTTP/2 handler.
    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let report = event as? HTTP2ConnectionErrorReport else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        if case .closing(var closing) = state, closing.reason == nil {
            closing.reason = report.reason
            state = .closing(closing)
        }
        promise?.succeed(())
    }

    private func beginClosing(errorCode: UInt32, context: ChannelHandlerContext) {
        let client = context.channel.remoteAddress?.ipAddress ?? "-"
        let deadline = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeDeadline) { [self] in
            closeTransport(.all, context: context)
        }
        state = .closing(Closing(errorCode: errorCode, client: client, deadline: deadline))
        // Bytes the client already has on the way are dropped as they come; none are asked for.
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    /// Closes the socket itself, below TLS (`TLSBypass`).
    private func closeTransport(_ mode: CloseMode, context: ChannelHandlerContext) {
        TLSBypass.transportContext(of: context).close(mode: mode, promise: nil)
        if mode == .all { finish() }
    }

    private func finish() {
        guard case .closing(let closing) = state else { return }
        state = .closed
        closing.deadline?.cancel()
        guard let count = resources.protocolErrorWarnings.note(client: closing.client) else { return }
        var metadata: Logger.Metadata = [
            "client": "\(closing.client)", "code": "\(HTTP2ErrorCodeName.of(closing.errorCode))",
            "reason": "\(closing.reason ?? "sent by Edge")",
        ]
        if count > 1 { metadata["connections"] = "\(count)" }
        logger.warning("HTTP/2 connection closed for a protocol error", metadata: metadata)
    }
}
