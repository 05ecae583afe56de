import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file body sent by reading it in chunks, where `sendfile` cannot go (TLS, HTTP/2 streams, a file gzipped on the
/// way out). The connection reads the next chunk only while the channel is writable, so a slow client holds at most
/// a chunk or two in memory.
///
/// Reads are `pread`s on the event loop, as nginx does without `aio`: files served are nearly always in the page
/// cache, and a thread hop per chunk would cost more than the copy.
final class FileReadingSend {
    private var descriptor: OpenDescriptor?
    /// Gzips each chunk read into an HTTP/1.1 chunk; `nil` when the file goes out as it is.
    private var encoder: GzipEncoder?
    private var position: Int
    private let end: Int
    /// Bytes read at a time: from the lower bound, doubled each time a chunk's write completes, up to the upper bound
    /// (`ConnectionTransport.fileChunkSizes`). A response that cannot leave reads no more than its first chunks.
    private let chunkSizes: ClosedRange<Int>
    private var chunkSize: Int
    /// Bytes whose write completed.
    private(set) var sent = 0
    /// Chunk writes not yet completed.
    var inFlight = 0
    /// Called once with the bytes sent, when the last chunk's write completes.
    let completion: (Int) -> Void
    /// A round is queued in the loop's `FileSendTurns`.
    var waitingForTurn = false
    /// Connection actions (keep-alive timer, close) that must wait until the whole body is queued.
    var afterwards: [HTTP1ConnectionState.Action] = []

    init(
        descriptor: OpenDescriptor, offset: Int, length: Int, chunkSizes: ClosedRange<Int>, encoder: GzipEncoder?,
        completion: @escaping (Int) -> Void
    ) {
        self.chunkSizes = chunkSizes
        self.chunkSize = chunkSizes.lowerBound
        self.descriptor = descriptor
        self.encoder = encoder
        self.position = offset
        self.end = offset + length
        self.completion = completion
    }

    /// A chunk of `size` bytes (or what gzip made of one) has left: the client takes what is sent, so read more at
    /// a time.
    func chunkWritten(_ size: Int) {
        sent += size
        chunkSize = min(chunkSize * 2, chunkSizes.upperBound)
    }

    /// Whether every byte has been read (and so queued for writing).
    var allRead: Bool { position >= end }

    /// The next piece of the body: a chunk of the file, or what gzip made of it (perhaps nothing yet: zlib keeps
    /// input until it has a block; the last piece carries the gzip trailer and the end of the chunked body).
    /// Throws when the file ends early (it shrank) or cannot be read, or gzip fails.
    func nextPiece(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        let chunk = try readChunk(allocator: allocator)
        guard let encoder else { return chunk }
        return allRead
            ? try encoder.finish(chunk, allocator: allocator) : try encoder.chunk(chunk, allocator: allocator)
    }

    private func readChunk(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        guard let handle = descriptor?.handle else { throw IOError(errnoCode: EBADF, reason: "file already closed") }
        let size = min(chunkSize, end - position)
        var buffer = allocator.buffer(capacity: size)
        let offset = position
        let count = try handle.withUnsafeFileDescriptor { descriptor in
            try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { bytes in
                let result = pread(descriptor, bytes.baseAddress, size, off_t(offset))
                if result < 0 { throw IOError(errnoCode: errno, reason: "pread") }
                return result
            }
        }
        guard count > 0 else { throw IOError(errnoCode: EIO, reason: "file ended before its expected length") }
        position += count
        if allRead { descriptor = nil }
        return buffer
    }

    /// Lets go of the file (it closes once no cache or response holds it) and of the gzip stream; called when the
    /// connection went away or the send failed.
    func close() {
        descriptor = nil
        encoder?.release()
        encoder = nil
    }
}
