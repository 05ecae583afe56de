import NIOCore
import NIOTLS

/// Closes a TLS connection whose handshake has not completed in time, so a client that connects and says nothing
/// (or dribbles a ClientHello) cannot hold a connection slot; removes itself once the handshake is done.
final class HandshakeTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Counts handshakes and their failures by reason, when the admin listener is on.
    private let metrics: EdgeMetrics?
    private let loopMetrics: LoopMetrics?
    /// Set once the handshake's outcome is counted, so a failed one is not counted again when the socket closes.
    private var counted = false

    init(timeout: TimeAmount, metrics: EdgeMetrics? = nil, loopMetrics: LoopMetrics? = nil) {
        self.timeout = timeout
        self.metrics = metrics
        self.loopMetrics = loopMetrics
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            count(failure: nil)
            deadline?.cancel()
            deadline = nil
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        if event is ChannelShouldQuiesceEvent {
            // A graceful stop: nothing has been asked on this connection yet, so nothing is lost by closing it.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A failed handshake (garbage instead of a ClientHello, plain HTTP on the TLS port, an unsupported version)
    /// ends the connection quietly: there is nobody to answer in a language they speak.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        count(failure: Self.reason(of: error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        count(failure: "closed")
        context.fireChannelInactive()
    }

    private func arm(context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            count(failure: "timeout")
            context.close(promise: nil)
        }
    }

    /// Counts the handshake as done (`nil`) or failed for `failure`, once.
    private func count(failure: String?) {
        guard let metrics, !counted else { return }
        counted = true
        if let failure { metrics.handshakeFailed(reason: failure) } else { loopMetrics?.count(.handshakes) }
    }

    /// A failed handshake's reason as a short label, from BoringSSL's error names: a small, closed set.
    static func reason(of error: any Error) -> String {
        let text = String(describing: error).uppercased()
        let reasons = [
            ("HTTP_REQUEST", "plain_http"), ("WRONG_VERSION_NUMBER", "not_tls"),
            ("UNSUPPORTED_PROTOCOL", "protocol_version"), ("NO_SHARED_CIPHER", "no_shared_cipher"),
            ("NO_SHARED_GROUP", "no_shared_cipher"), ("NO_APPLICATION_PROTOCOL", "no_alpn"),
            ("EOF", "closed"),
        ]
        return reasons.first { text.contains($0.0) }?.1 ?? "error"
    }
}
