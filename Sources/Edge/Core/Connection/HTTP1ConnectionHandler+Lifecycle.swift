import NIOCore
import Shared

/// The connection's life: performing the state machine's actions (timers, closing), flushing, and timeouts.
extension HTTP1ConnectionHandler {
    func perform(_ action: HTTP1ConnectionState.Action, context: ChannelHandlerContext) {
        // A file body still being read out: the keep-alive timer or the close start after its last byte.
        if action != .none, files?.deferUntilQueued(action) == true { return }
        switch action {
        case .none:
            break
        case .armTimer(let timeout):
            // An HTTP/2 stream arrives with its whole head and ends with its response: only a stalled body needs a
            // deadline. The connection's idle timeout is the HTTP/2 connection manager's.
            if transport == .http2Stream && timeout != .body { return }
            let delay: TimeAmount
            switch timeout {
            case .header: delay = settings.headerTimeout
            case .keepalive: delay = settings.keepaliveTimeout
            case .body: delay = settings.bodyTimeout
            }
            timer.arm(timeout, at: context.eventLoop.now + delay)
            scheduleTimerCheck(context: context)
        case .closeAfterPendingWrites:
            timer.disarm()
            // An empty write completes only after every earlier write, so the client receives all of them.
            let barrier = context.eventLoop.makePromise(of: Void.self)
            context.write(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))), promise: barrier)
            needsFlush = true
            let linger = lingerBeforeClose
            barrier.futureResult.assumeIsolated().whenComplete { _ in
                guard linger else {
                    context.close(promise: nil)
                    return
                }
                // The client may still be sending a body we refused. Closing now would reset the connection and the
                // client could lose our response; instead stop writing, read and drop what still comes for a
                // while (nginx's lingering close), then close.
                context.close(mode: .output, promise: nil)
                context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) { context.close(promise: nil) }
            }
        }
    }

    /// How long a refused body may keep arriving before the connection is closed anyway.
    static let lingerTime = TimeAmount.seconds(2)

    func flushIfNeeded(context: ChannelHandlerContext) {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    func scheduleTimerCheck(context: ChannelHandlerContext) {
        let stalled = files?.isSending == true || !context.channel.isWritable
        guard let deadline = timer.nextDeadline(sendStalled: stalled, sendTimeout: settings.sendTimeout),
            !timer.hasCheck(atOrBefore: deadline)
        else { return }
        timer.schedule(at: deadline, on: context.eventLoop) { [self] in
            self.timerFired(context: context)
        }
    }

    func timerFired(context: ChannelHandlerContext) {
        let stalled = files?.isSending == true || !context.channel.isWritable
        switch timer.expired(now: context.eventLoop.now, sendStalled: stalled, sendTimeout: settings.sendTimeout) {
        case .none:
            scheduleTimerCheck(context: context)
        case .send:
            if timer.noteAcknowledged(TCPInfo.bytesAcknowledged(on: context.channel), now: context.eventLoop.now) {
                scheduleTimerCheck(context: context)
                return
            }
            settings.logger.info("client stopped reading; closing", metadata: ["client": "\(remoteAddress)"])
            context.close(promise: nil)
        case .request(let timeout):
            if let proxy {
                // A proxied body that stopped coming: answered (or cut, if the response had begun) and logged once,
                // with the upstream's fields; the upstream request is abandoned.
                proxy.fail(.requestBodyTimeout)
                return
            }
            let (send408, action) = state.timedOut(timeout)
            if send408 {
                let what = timeout == .body ? "request body not received in time" : "request head not received in time"
                settings.logger.info("\(what)", metadata: ["client": "\(remoteAddress)"])
                var response = Response.simple(.requestTimeout, closesConnection: true)
                applyErrorPage(to: &response)
                write(
                    response, keepAlive: false, http10: false,
                    logAs: (request?.head, request?.start ?? headStart ?? context.eventLoop.now), context: context)
            }
            perform(action, context: context)
            flushIfNeeded(context: context)
        }
    }
}
