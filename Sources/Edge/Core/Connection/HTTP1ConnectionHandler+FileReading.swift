import NIOCore
import Shared

/// File bodies on connections without `sendfile`: read in chunks as the client takes them.
extension HTTP1ConnectionHandler {
    func startFileSend(
        _ descriptor: OpenDescriptor, offset: Int, length: Int, context: ChannelHandlerContext,
        completion: @escaping (Int) -> Void
    ) {
        timer.noteWriteProgress(now: context.eventLoop.now)
        guard length > 0 else {
            completion(0)
            return
        }
        fileSend = FileReadingSend(descriptor: descriptor, offset: offset, length: length, completion: completion)
        // Started while handling requests: the caller goes on with them itself.
        pumpFileSend(context: context, resumeRequests: false)
    }

    /// The client took some of what was written: read and write more.
    func continueFileSend(context: ChannelHandlerContext) {
        pumpFileSend(context: context, resumeRequests: true)
    }

    private func pumpFileSend(context: ChannelHandlerContext, resumeRequests: Bool) {
        guard let send = fileSend else { return }
        var wrote = false
        while !send.allRead && context.channel.isWritable {
            let chunk: ByteBuffer
            do {
                chunk = try send.readChunk(allocator: context.channel.allocator)
            } catch {
                // The head promised a length we can no longer deliver: only closing tells the client.
                settings.logger.error("file read failed mid-response; closing", metadata: ["client": "\(remoteAddress)", "error": "\(error)"])
                send.close()
                fileSend = nil
                context.close(promise: nil)
                return
            }
            let size = chunk.readableBytes
            send.inFlight += 1
            outstandingFileChunks += 1
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenComplete { result in
                self.outstandingFileChunks -= 1
                send.inFlight -= 1
                self.timer.noteWriteProgress(now: context.eventLoop.now)
                if case .success = result { send.sent += size }
                if send.allRead && send.inFlight == 0 { send.completion(send.sent) }
            }
            context.write(wrapOutboundOut(.byteBuffer(chunk)), promise: promise)
            wrote = true
        }
        if wrote {
            needsFlush = false
            context.flush()
        }
        if send.allRead {
            // Everything is queued in order; what waited for the body (keep-alive, close, the next pipelined
            // request) may go on.
            fileSend = nil
            for action in send.afterwards { perform(action, context: context) }
            if resumeRequests {
                processEvents(context: context)
                flushIfNeeded(context: context)
            }
        } else {
            scheduleTimerCheck(context: context)
        }
    }
}
