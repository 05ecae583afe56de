import NIOCore

/// What made the HTTP/2 handler end the connection, sent back towards the socket to `HTTP2ErrorCloseHandler`, which
/// logs it with the GOAWAY's code.
struct HTTP2ConnectionErrorReport {
    /// The error's type name: `ExcessiveRSTFrames`, `ExcessivelyLargeHeaderBlock`, ...
    let reason: String
}

/// Passes each error the HTTP/2 handler reports on to `HTTP2ErrorCloseHandler`, which sits on the other side of it.
///
/// swift-nio-http2 writes its GOAWAY towards the socket and then reports the error towards the application, so the
/// handler that sees the GOAWAY never sees why; this one, right behind the HTTP/2 handler, sends the why back.
final class HTTP2ErrorReasonRelay: ChannelInboundHandler {
    typealias InboundIn = Any

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let report = HTTP2ConnectionErrorReport(reason: String(describing: type(of: error)))
        context.triggerUserOutboundEvent(report, promise: nil)
        context.fireErrorCaught(error)
    }
}
