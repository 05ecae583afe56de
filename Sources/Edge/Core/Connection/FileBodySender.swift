import NIOCore
import Shared

/// What sending a file body needs of its connection.
protocol FileBodyConnection: AnyObject {
    /// A chunk left, or a send began: progress, as far as `timeouts.send` is concerned.
    func fileBodyProgressed()
    /// Chunks are in flight: the connection's stall check must be armed.
    func fileBodyInFlight()
    /// A body read out chunk by chunk is all queued: the actions that waited for it may run, and (outside the
    /// connection's own request handling) the requests that waited behind it.
    func fileBodyQueued(then actions: [HTTP1ConnectionState.Action], resumeRequests: Bool)
    /// The body cannot be sent whole (the file shrank, or cannot be read): the connection must close.
    func fileBodyFailed(_ error: any Error)
    /// Sends what was written, with whatever else the connection had queued.
    func flushFileBody()
}

/// Sends a connection's file bodies after their heads, and owns what is in flight.
///
/// On plain TCP a body goes by `sendfile` (`FileRegion`) in chunks, with the socket corked while files are in
/// flight (nginx's `tcp_nopush`). Where `sendfile` cannot go (TLS, HTTP/2 streams, gzip on the way out) it is read
/// and written a chunk at a time, only while the channel takes it, in the loop's turns (`FileSendTurns`).
/// Made for a connection's first file body; connections that send none never pay for it.
final class FileBodySender {
    /// `sendfile` chunks, nginx's `sendfile_max_chunk` default: a 1 MiB file is one call when the socket takes it.
    /// A finished chunk counts as progress for the send timeout, and so does any byte the client acknowledges.
    static let sendfileChunkSize = 2 * 1024 * 1024
    /// Chunks read in one round at most: the share of the loop a send takes per turn. A large file whose gzipped
    /// form hardly fills the channel (a log of repeated lines) would otherwise be read and compressed whole in one
    /// round.
    private static let chunksPerRound = 2

    /// Strong, and dropped when the connection closes or its handler leaves the pipeline (`connectionClosed`): a
    /// weak reference cost slow-path reference counting on every chunk (about 130 instructions per file).
    private var connection: (any FileBodyConnection)?
    private let turns: FileSendTurns
    private let chunkSizes: ClosedRange<Int>
    /// TCP connections cork while sending files: the head and the file's first bytes leave in full segments
    /// instead of a small head packet followed by the file (measured: ~1.6x on 1 MiB files).
    private let canCork: Bool
    private var corkedFiles = 0
    /// Chunk writes (of either kind) not yet completed.
    private var chunksInFlight = 0
    /// The body being read out chunk by chunk, and what waits for it to be queued.
    private var reading: FileReadingSend?

    init(
        connection: any FileBodyConnection, turns: FileSendTurns, chunkSizes: ClosedRange<Int>, canCork: Bool
    ) {
        self.connection = connection
        self.turns = turns
        self.chunkSizes = chunkSizes
        self.canCork = canCork
    }

    /// Bytes are still on their way to the client (for the send timeout's stall check).
    var isSending: Bool { chunksInFlight > 0 || reading != nil }

    /// A body is still being read out: the next response must wait until it is all queued.
    var isReadingOut: Bool { reading != nil }

    /// Holds `action` until the body being read out is all queued; false when none is.
    func deferUntilQueued(_ action: HTTP1ConnectionState.Action) -> Bool {
        guard let reading else { return false }
        reading.afterwards.append(action)
        return true
    }

    // MARK: - sendfile

    /// Queues `length` bytes of the file from `offset` by `sendfile`; `completion` gets the bytes sent.
    func sendfile(
        _ descriptor: OpenDescriptor, offset: Int, length: Int, context: ChannelHandlerContext,
        completion: @escaping (_ bytesSent: Int) -> Void
    ) {
        corkedFiles += 1
        if corkedFiles == 1 { setCork(true, context: context) }
        writeRegions(descriptor, offset: offset, length: length, context: context) { sent in
            self.corkedFiles -= 1
            if self.corkedFiles == 0 { self.setCork(false, context: context) }
            completion(sent)
        }
    }

    private func writeRegions(
        _ descriptor: OpenDescriptor, offset: Int, length: Int, context: ChannelHandlerContext,
        completion: @escaping (_ bytesSent: Int) -> Void
    ) {
        if chunksInFlight == 0 { connection?.fileBodyProgressed() }
        guard length > 0 else {
            completion(0)
            return
        }
        var sent = 0
        var position = offset
        let end = offset + length
        while position < end {
            let size = min(Self.sendfileChunkSize, end - position)
            let isLast = position + size == end
            let promise = context.eventLoop.makePromise(of: Void.self)
            chunksInFlight += 1
            promise.futureResult.assumeIsolated().whenComplete { result in
                self.chunksInFlight -= 1
                self.connection?.fileBodyProgressed()
                if case .success = result { sent += size }
                // The closure holds the descriptor, so it stays open until the last chunk is out.
                if isLast {
                    withExtendedLifetime(descriptor) { completion(sent) }
                }
            }
            let region = FileRegion(fileHandle: descriptor.handle, readerIndex: position, endIndex: position + size)
            context.write(NIOAny(IOData.fileRegion(region)), promise: promise)
            position += size
        }
        connection?.fileBodyInFlight()
    }

    private func setCork(_ on: Bool, context: ChannelHandlerContext) {
        guard canCork, context.channel.isActive else { return }
        // Uncorking pushes out whatever partial segment is left, so the response's tail is not delayed.
        try? context.channel.syncOptions?.setOption(.tcpOption(.init(rawValue: 3 /* TCP_CORK */)), value: on ? 1 : 0)
    }

    // MARK: - Read out chunk by chunk

    /// Reads `length` bytes of the file from `offset` and writes them as the client takes them, through `encoder`
    /// if given (gzip); `completion` gets the bytes sent once the last chunk's write completes.
    func startReading(
        _ descriptor: OpenDescriptor, offset: Int, length: Int, encoder: GzipEncoder?, context: ChannelHandlerContext,
        completion: @escaping (Int) -> Void
    ) {
        connection?.fileBodyProgressed()
        guard length > 0 else {
            encoder?.release()
            completion(0)
            return
        }
        reading = FileReadingSend(
            descriptor: descriptor, offset: offset, length: length, chunkSizes: chunkSizes, encoder: encoder,
            completion: completion)
        // Started while handling requests: the caller goes on with them itself.
        readRound(context: context, resumeRequests: false)
    }

    /// The client took some of what was written (or a round ended with the channel still writable): read and
    /// write more in the loop's next turn for file sends.
    func clientTookMore(context: ChannelHandlerContext) {
        guard let send = reading, !send.waitingForTurn else { return }
        send.waitingForTurn = true
        turns.wait {
            send.waitingForTurn = false
            self.readRound(context: context, resumeRequests: true)
        }
    }

    /// The connection went away, or its handler left the pipeline: the file is let go of, nothing more is read,
    /// and the connection no longer hears of writes that complete.
    func connectionClosed() {
        reading?.close()
        reading = nil
        connection = nil
    }

    private func readRound(context: ChannelHandlerContext, resumeRequests: Bool) {
        guard let send = reading else { return }
        var unflushed = false
        var chunksLeft = Self.chunksPerRound
        while !send.allRead && context.channel.isWritable && chunksLeft > 0 {
            chunksLeft -= 1
            let chunk: ByteBuffer
            do {
                chunk = try send.nextPiece(allocator: context.channel.allocator)
            } catch {
                send.close()
                reading = nil
                connection?.fileBodyFailed(error)
                return
            }
            let size = chunk.readableBytes
            // zlib may keep a whole chunk's input for its next block; the last piece is never empty.
            guard size > 0 else { continue }
            send.inFlight += 1
            chunksInFlight += 1
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenComplete { result in
                self.chunksInFlight -= 1
                send.inFlight -= 1
                self.connection?.fileBodyProgressed()
                if case .success = result { send.chunkWritten(size) }
                if send.allRead && send.inFlight == 0 { send.completion(send.sent) }
            }
            context.write(NIOAny(IOData.byteBuffer(chunk)), promise: promise)
            unflushed = true
            if !context.channel.isWritable {
                // A chunk larger than an HTTP/2 stream may hold: let it go now. If the client's window takes it, the
                // stream is writable again and the round goes on; if not, the stream holds this chunk and no more.
                unflushed = false
                connection?.flushFileBody()
            }
        }
        if unflushed { connection?.flushFileBody() }
        if send.allRead {
            // Everything is queued in order; what waited for the body (keep-alive, close, the next pipelined
            // request) may go on.
            reading = nil
            connection?.fileBodyQueued(then: send.afterwards, resumeRequests: resumeRequests)
        } else {
            // This round's chunks are done and the client still takes more.
            if chunksLeft == 0 && context.channel.isWritable { clientTookMore(context: context) }
            connection?.fileBodyInFlight()
        }
    }
}
