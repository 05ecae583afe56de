import Logging
import NIOCore
import Shared

/// The compression stage of Edge's own responses (files and the answers Edge makes): each passes through the
/// `compression` policy on its way to the client. Proxied responses are filtered head first, then piece by piece, by
/// `ProxiedRequest`.
///
/// A stage without state of its own: the connection passes its settings and its loop's resources, borrowed, so the
/// common case (nothing to do) costs no reference counting.
enum ResponseCompression {
    /// Files up to this size are gzipped in one go on the event loop (one read, one `deflate`); larger ones are read,
    /// gzipped and sent a chunk at a time as the client takes them, so neither memory nor one turn of the loop
    /// grows with the file.
    static let wholeFileGzipLimit = 1 << 20

    /// Passes `response` through the compression filter: unchanged, with `Vary` added, or gzipped (head and body).
    /// In place, so the common case (nothing to do) copies no response.
    /// `allocator` is asked for only when the response changes: most pass untouched.
    static func compress(
        _ response: inout Response, request: RequestHead, facts: RequestHeaderFacts, settings: ConnectionSettings,
        resources: LoopResources, allocator: @autoclosure () -> ByteBufferAllocator
    ) {
        guard let representation = response.representation else { return }
        // Read before any change to the response lets go of it.
        let wholeFile = response.wholeFile
        var candidate = CompressionCandidate(
            status: response.status.code, mediaType: representation.mediaType, length: representation.length)
        candidate.isPartial = response.status == .partialContent
        let decision = settings.compression.decide(
            candidate, acceptsGzip: facts.acceptsGzip, clientIsHTTP10: request.minorVersion == 0)
        guard decision != .untouched else { return }
        if decision == .gzip, response.status == .ok { resources.metrics?.count(.gzip) }
        // A small cached file: the answer made for an earlier request is kept with it.
        let slot: OpenFileCache.FilteredSlot = decision == .gzip ? \.gzipped : \.varied
        if let kept = wholeFile?[keyPath: slot], let body = kept.contents {
            replace(&response, with: kept, body: body)
            return
        }

        response.representation = nil
        var head = allocator().buffer(capacity: response.head.readableBytes + 64)
        GzipHeaderFilter.rewrite(response.head, for: decision, into: &head)
        guard decision == .gzip, response.status == .ok else {
            if let wholeFile, let body = wholeFile.contents {
                keep(
                    CachedFile(filtering: wholeFile, head: head, body: body), in: slot, of: wholeFile,
                    answering: &response, resources: resources)
            } else {
                response.head = head
            }
            return
        }
        head.writeStaticString("Transfer-Encoding: chunked\r\n")
        let input: ByteBuffer
        switch response.body {
        case .none:
            response.head = head  // HEAD: the headers a GET would get
            return
        case .memory(let bytes):
            input = bytes
        case .file(_, _, _, let length) where length > Self.wholeFileGzipLimit:
            // The writer reads the file through this stream a chunk at a time (`FileReadingSend`).
            do {
                response.bodyEncoder = try resources.gzipStreams.take()
                response.head = head
            } catch {
                settings.logger.error("gzip failed; sending uncompressed", metadata: ["error": "\(error)"])
                sendUncompressed(&response, allocator: allocator())
            }
            return
        case .file(let path, let identity, _, _):
            // Through the descriptor cache, as a file sent as is would be: no open and close per request.
            guard case .success(let descriptor) = resources.descriptors.descriptor(for: path, identity: identity),
                case .success(let bytes)? = try? descriptor.handle.withUnsafeFileDescriptor({
                    FileLookup.readWhole($0, as: identity)
                })
            else {
                sendUncompressed(&response, allocator: allocator())
                return
            }
            input = bytes
        }
        do {
            let encoder = try resources.gzipStreams.take()
            let body = try encoder.finish(consume input, allocator: allocator())
            guard let wholeFile else {
                response.body = .memory(body)
                response.head = head
                return
            }
            keep(
                CachedFile(filtering: wholeFile, head: head, body: body), in: slot, of: wholeFile,
                answering: &response, resources: resources)
        } catch {
            settings.logger.error("gzip failed; sending uncompressed", metadata: ["error": "\(error)"])
            sendUncompressed(&response, allocator: allocator())
        }
    }

    /// Keeps `copy` with the cached `file` for the requests to come, and answers this one with it.
    private static func keep(
        _ copy: CachedFile, in slot: OpenFileCache.FilteredSlot, of file: CachedFile,
        answering response: inout Response,
        resources: LoopResources
    ) {
        resources.files.keep(copy, in: slot, of: file)
        if let body = copy.contents { replace(&response, with: copy, body: body) }
    }

    /// `response` becomes `filtered`'s whole response (sent ready-made, like any small cached file).
    private static func replace(_ response: inout Response, with filtered: CachedFile, body: ByteBuffer) {
        let closesConnection = response.closesConnection
        response = .whole(filtered, contents: body)
        response.closesConnection = closesConnection
    }

    /// The fallback when a body cannot be gzipped after all: sent as is, still marked as varying. `response.head`
    /// is still the original's here.
    private static func sendUncompressed(_ response: inout Response, allocator: ByteBufferAllocator) {
        var head = allocator.buffer(capacity: response.head.readableBytes + 32)
        GzipHeaderFilter.rewrite(response.head, for: .varyOnly, into: &head)
        response.head = head
    }
}
