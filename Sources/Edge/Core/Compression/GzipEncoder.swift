import CompressNIO
import NIOCore

/// zlib deflate streams for one event loop, reused across responses: setting one up allocates a few hundred
/// kilobytes, which a busy loop would otherwise do per response. A stream in use belongs to one response.
final class GzipStreams {
    private var idle: [ZlibCompressor] = []
    private let configuration: ZlibConfiguration
    /// Idle streams kept for reuse; more are freed when returned.
    private let keep = 16

    init(level: Int) {
        configuration = ZlibConfiguration(
            windowSize: 15, compressionLevel: Int32(max(1, level)), memoryLevel: 8, strategy: .default)
    }

    /// A fresh gzip stream (header not yet written).
    func take() throws -> GzipEncoder {
        if let reused = idle.popLast() { return GzipEncoder(reused, owner: self) }
        return GzipEncoder(try ZlibCompressor(algorithm: .gzip, configuration: configuration), owner: self)
    }

    fileprivate func giveBack(_ compressor: ZlibCompressor) {
        guard idle.count < keep, (try? compressor.reset()) != nil else { return }
        idle.append(compressor)
    }
}

/// The body half of compression: gzips one response's body piece by piece, each output framed as an HTTP/1.1
/// chunk. `flush` empties zlib's buffers (a streamed response's pieces reach the client when the upstream sends
/// them); `finish` ends the stream and the chunked body.
final class GzipEncoder {
    private var compressor: ZlibCompressor?
    private let owner: GzipStreams
    /// Output of an unflushed piece too small to be worth a chunk of its own, sent at the front of the next chunk.
    /// zlib writes the 10-byte gzip header on its first call, before it has any compressed block: without this,
    /// every gzipped streamed response began with a chunk holding only that header.
    private var heldBack = ByteBuffer()
    private static let smallestUnflushedChunk = 64

    fileprivate init(_ compressor: ZlibCompressor, owner: GzipStreams) {
        self.compressor = compressor
        self.owner = owner
    }

    /// Compresses `input`; the returned chunk is empty when zlib kept everything for later, or made too little to
    /// be worth a chunk yet.
    ///
    /// The input is consumed: zlib reads it through a mutable pointer, so a buffer still referenced elsewhere would
    /// be copied whole first (100 KiB per request for a page, measured).
    func chunk(_ input: consuming ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try framed(consume input, flush: .no, last: false, allocator: allocator)
    }

    /// Everything compressed so far, as a chunk the client can decode at once.
    func flush(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try framed(ByteBuffer(), flush: .sync, last: false, allocator: allocator)
    }

    /// The rest of the stream, its gzip trailer and the end of the chunked body; the stream is then given back.
    func finish(_ input: consuming ByteBuffer = ByteBuffer(), allocator: ByteBufferAllocator) throws -> ByteBuffer {
        defer { release() }
        return try framed(consume input, flush: .finish, last: true, allocator: allocator)
    }

    /// Gives the stream back unfinished (the response was abandoned). Safe to call more than once.
    func release() {
        guard let compressor else { return }
        self.compressor = nil
        owner.giveBack(compressor)
    }

    private func framed(
        _ input: consuming ByteBuffer, flush: CompressNIOFlush, last: Bool, allocator: ByteBufferAllocator
    ) throws -> ByteBuffer {
        guard let compressor else { throw CompressNIOError.uninitializedStream }
        var output = allocator.buffer(capacity: compressor.maxSize(from: input) + 1024 + 64)
        // Room for the chunk-size line, filled in once the compressed size is known.
        let sizeLineLength = 10
        output.moveWriterIndex(forwardBy: sizeLineLength)
        output.writeBuffer(&heldBack)
        if input.readableBytes > 0 || flush != .no {
            try Self.deflate(&input, with: compressor, flush: flush, into: &output)
        }
        let size = output.readableBytes - sizeLineLength
        if flush == .no && size > 0 && size < Self.smallestUnflushedChunk {
            // Too little for a chunk of its own; whatever comes next (a flush at the latest) carries it.
            heldBack = ByteBuffer(bytes: output.readableBytesView.dropFirst(sizeLineLength))
            return ByteBuffer()
        }
        guard size > 0 else {
            return last ? ByteBuffer(staticString: "0\r\n\r\n") : ByteBuffer()
        }
        // An 8-digit hex size (up to 4 GiB) plus CRLF, padded with leading zeros: no second copy. `output` stays
        // the one reference to its storage until it is returned (a second variable made the last write copy it).
        // Written digit by digit: building the line as strings cost a thousand instructions per piece.
        output.withUnsafeMutableReadableBytes { line in
            let hexDigits: StaticString = "0123456789abcdef"
            for position in 0..<8 {
                line[7 - position] = hexDigits.utf8Start[(size >> (4 * position)) & 0xF]
            }
            line[8] = UInt8(ascii: "\r")
            line[9] = UInt8(ascii: "\n")
        }
        output.writeStaticString(last ? "\r\n0\r\n\r\n" : "\r\n")
        return output
    }

    /// Deflates all of `input`, growing `output` while zlib has more to give.
    private static func deflate(
        _ input: inout ByteBuffer, with compressor: ZlibCompressor, flush: CompressNIOFlush,
        into output: inout ByteBuffer
    ) throws {
        for _ in 0..<64 {
            output.reserveCapacity(minimumWritableBytes: compressor.maxSize(from: input) + 1024)
            do {
                try compressor.deflate(from: &input, to: &output, flush: flush)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // Out of room (or, for a flush, nothing left to do): go round with more room.
                if output.writableBytes > 0 && input.readableBytes == 0 && flush != .finish { return }
                continue
            }
            if output.writableBytes > 0 && input.readableBytes == 0 { return }
        }
        throw CompressNIOError.internalError
    }
}
