import NIOCore

/// What the connection does for its `FileBodySender`: the send timeout's bookkeeping, the order of responses, and
/// closing when a body cannot be sent whole.
extension HTTP1ConnectionHandler: FileBodyConnection {
    // A file's last write may complete after the handler left the pipeline (the connection closed): `context` is
    // checked in each.

    func fileBodyProgressed() {
        guard let context else { return }
        timer.noteWriteProgress(now: context.eventLoop.now)
    }

    func fileBodyInFlight() {
        guard let context else { return }
        scheduleTimerCheck(context: context)
    }

    func fileBodyQueued(then actions: [HTTP1ConnectionState.Action], resumeRequests: Bool) {
        guard let context else { return }
        for action in actions { perform(action, context: context) }
        guard resumeRequests else { return }
        processEvents(context: context)
        flushIfNeeded(context: context)
    }

    func fileBodyFailed(_ error: any Error) {
        // The head promised a body that can no longer be delivered: only closing tells the client.
        settings.logger.error(
            "cannot send the rest of a file; closing", metadata: ["client": "\(remoteAddress)", "error": "\(error)"])
        context?.close(promise: nil)
    }

    func flushFileBody() {
        needsFlush = false
        context?.flush()
    }
}
