import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Sits on a listening channel and stops accepting for a while when accept fails for want of resources, chiefly
/// file descriptors (`EMFILE`), as nginx does, and says so in the log.
///
/// The connection that could not be accepted stays in the listen queue, so the listener stays readable: retried at
/// once, accept fails again, for ever, one event loop spinning at 100 % (serving its own connections between
/// spins). NIO's `AcceptBackoffHandler` does not prevent it, because it delays only the next `read()`, and after a
/// failed accept NIO never asks for one: the listener stays registered for reading. Turning `autoRead` off
/// unregisters it; turning it back on registers it again.
final class AcceptPauseHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let pause: TimeAmount
    private let logger: Logger
    private var resume: Scheduled<Void>?

    init(pause: TimeAmount = .seconds(1), logger: Logger) {
        self.pause = pause
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard resume == nil, let ioError = error as? IOError, Self.isResourceShortage(ioError) else {
            context.fireErrorCaught(error)
            return
        }
        logger.warning(
            "cannot accept connections; pausing accepts",
            metadata: [
                "error": "\(ioError)", "pause": "\(pause)",
                "hint": "raise the open-files limit (LimitNOFILE) or lower limits.max_connections",
            ])
        let channel = context.channel
        channel.setOption(.autoRead, value: false).whenComplete { _ in }
        resume = context.eventLoop.assumeIsolated().scheduleTask(in: pause) { [weak self] in
            self?.resume = nil
            channel.setOption(.autoRead, value: true).whenComplete { _ in }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
        context.fireChannelInactive()
    }

    /// The accept errors that go away by themselves once connections close or memory frees up.
    static func isResourceShortage(_ error: IOError) -> Bool {
        switch error.errnoCode {
        case EMFILE, ENFILE, ENOBUFS, ENOMEM: true
        default: false
        }
    }
}
