import Logging
import NIOCore

/// Closes an HTTP/2 connection whose request head (the preface, a frame other than DATA, or a header block) has not
/// fully arrived within `timeouts.header` of its first byte: HTTP/2's slowloris, a HEADERS frame sent a byte a
/// second, which holds a connection without ever opening a stream. nginx applies `client_header_timeout` the same
/// way. Sits between TLS and the HTTP/2 handler, on the bytes.
///
/// Lazy, as `ConnectionTimer`: a client whose reads end between frames schedules nothing after its preface.
final class HTTP2HeadTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var progress = HTTP2InboundProgress()
    private var deadline: NIODeadline?
    private var check: Scheduled<Void>?
    private let timeout: TimeAmount
    private let logger: Logger

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Added once TLS has negotiated h2: the preface is awaited from now.
        deadline = context.eventLoop.now + timeout
        scheduleCheck(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let completed = progress.consume(unwrapInboundIn(data))
        if !progress.isWaitingForHead {
            deadline = nil
        } else if completed || deadline == nil {
            // A new head began in this read (after another ended, perhaps): its time counts from now.
            deadline = context.eventLoop.now + timeout
            scheduleCheck(context: context)
        }
        context.fireChannelRead(data)
    }

    private func scheduleCheck(context: ChannelHandlerContext) {
        guard check == nil, let deadline else { return }
        check = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            check = nil
            guard let deadline = self.deadline else { return }
            guard context.eventLoop.now >= deadline else { return scheduleCheck(context: context) }
            logger.info(
                "HTTP/2 request head not received in time; closing",
                metadata: ["client": "\(context.channel.remoteAddress?.ipAddress ?? "-")"])
            self.deadline = nil
            TLSBypass.transportContext(of: context).close(promise: nil)
        }
    }
}
