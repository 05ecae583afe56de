import NIOCore
import Shared

/// File bodies that cannot go by `sendfile` (TLS, HTTP/2, gzip on the way out): read in chunks as the client takes
/// them.
extension HTTP1ConnectionHandler {
    /// Chunks read in one round at most: the share of the loop a send takes per turn. A large file whose gzipped
    /// form hardly fills the channel (a log of repeated lines) would otherwise be read and compressed whole in one
    /// round.
    private static let chunksPerRound = 2

    func startFileSend(
        _ descriptor: OpenDescriptor, offset: Int, length: Int, encoder: GzipEncoder?, context: ChannelHandlerContext,
        completion: @escaping (Int) -> Void
    ) {
        timer.noteWriteProgress(now: context.eventLoop.now)
        guard length > 0 else {
            encoder?.release()
            completion(0)
            return
        }
        fileSend = FileReadingSend(
            descriptor: descriptor, offset: offset, length: length, chunkSizes: transport.fileChunkSizes,
            encoder: encoder,
            completion: completion)
        // Started while handling requests: the caller goes on with them itself.
        pumpFileSend(context: context, resumeRequests: false)
    }

    /// The client took some of what was written (or a round ended with the channel still writable): read and
    /// write more in the loop's next turn for file sends (`FileSendTurns`).
    func continueFileSend(context: ChannelHandlerContext) {
        guard let send = fileSend, !send.waitingForTurn else { return }
        send.waitingForTurn = true
        resources.fileSendTurns.wait {
            send.waitingForTurn = false
            self.pumpFileSend(context: context, resumeRequests: true)
        }
    }

    private func pumpFileSend(context: ChannelHandlerContext, resumeRequests: Bool) {
        guard let send = fileSend else { return }
        var wrote = false
        var chunksLeft = Self.chunksPerRound
        while !send.allRead && context.channel.isWritable && chunksLeft > 0 {
            chunksLeft -= 1
            let chunk: ByteBuffer
            do {
                chunk = try send.nextPiece(allocator: context.channel.allocator)
            } catch {
                // The head promised a body we can no longer deliver: only closing tells the client.
                settings.logger.error(
                    "cannot send the rest of a file; closing",
                    metadata: ["client": "\(remoteAddress)", "error": "\(error)"])
                send.close()
                fileSend = nil
                context.close(promise: nil)
                return
            }
            let size = chunk.readableBytes
            // zlib may keep a whole chunk's input for its next block; the last piece is never empty.
            guard size > 0 else { continue }
            send.inFlight += 1
            outstandingFileChunks += 1
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenComplete { result in
                self.outstandingFileChunks -= 1
                send.inFlight -= 1
                self.timer.noteWriteProgress(now: context.eventLoop.now)
                if case .success = result { send.chunkWritten(size) }
                if send.allRead && send.inFlight == 0 { send.completion(send.sent) }
            }
            context.write(wrapOutboundOut(.byteBuffer(chunk)), promise: promise)
            wrote = true
            if !context.channel.isWritable {
                // A chunk larger than an HTTP/2 stream may hold: let it go now. If the client's window takes it, the
                // stream is writable again and the round goes on; if not, the stream holds this chunk and no more.
                wrote = false
                context.flush()
            }
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
            // This round's chunks are done and the client still takes more.
            if chunksLeft == 0 && context.channel.isWritable { continueFileSend(context: context) }
            scheduleTimerCheck(context: context)
        }
    }
}
