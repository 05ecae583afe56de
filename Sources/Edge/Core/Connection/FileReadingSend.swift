import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file body sent by reading it in chunks, where `sendfile` cannot go (TLS, HTTP/2 streams). The connection reads
/// the next chunk only while the channel is writable, so a slow client holds at most a chunk or two in memory.
///
/// Reads are `pread`s on the event loop, as nginx does without `aio`: files served are nearly always in the page
/// cache, and a thread hop per chunk would cost more than the copy.
final class FileReadingSend {
    /// Large enough to fill several TLS records per write, small enough to keep memory per connection bounded.
    static let chunkSize = 128 * 1024

    private var descriptor: OpenDescriptor?
    private var position: Int
    private let end: Int
    /// Bytes whose write completed.
    var sent = 0
    /// Chunk writes not yet completed.
    var inFlight = 0
    /// Called once with the bytes sent, when the last chunk's write completes.
    let completion: (Int) -> Void
    /// Connection actions (keep-alive timer, close) that must wait until the whole body is queued.
    var afterwards: [HTTP1ConnectionState.Action] = []

    init(descriptor: OpenDescriptor, offset: Int, length: Int, completion: @escaping (Int) -> Void) {
        self.descriptor = descriptor
        self.position = offset
        self.end = offset + length
        self.completion = completion
    }

    /// Whether every byte has been read (and so queued for writing).
    var allRead: Bool { position >= end }

    /// Reads the next chunk; throws when the file ends early (it shrank) or cannot be read.
    func readChunk(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        guard let handle = descriptor?.handle else { throw IOError(errnoCode: EBADF, reason: "file already closed") }
        let size = min(Self.chunkSize, end - position)
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
        if allRead { close() }
        return buffer
    }

    /// Lets go of the file (it closes once no cache or response holds it); called when the body is fully read or
    /// the connection went away.
    func close() {
        descriptor = nil
    }
}
