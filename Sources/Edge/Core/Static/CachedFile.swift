import NIOCore

/// A file ready to be served: validators, content type and the pre-encoded header lines of its 200 response,
/// plus the bytes themselves when the file is small.
///
/// Building this costs several system calls and some formatting; an `OpenFileCache` keeps it so a repeated request
/// costs one `stat` and one buffer copy.
public final class CachedFile {
    /// Absolute path as built from the request (symlinks not resolved), re-`stat`ed to detect changes.
    public let path: String
    /// The version of the file this entry describes.
    public let identity: FileIdentity
    /// Content type by extension.
    public let contentType: String
    /// `ETag` and `Last-Modified`.
    public let validators: Validators
    /// The route's `Cache-Control`, if any.
    public let cacheControl: String?
    /// Status line and every header of a full 200 response except `Date` and `Connection`, each line ending in CRLF.
    public let fullResponseHead: ByteBuffer
    /// The whole file when it is small enough to keep in memory; `nil` means serve from disk.
    public let contents: ByteBuffer?
    /// Tick of the last use, for evicting the least recently used entries.
    var lastUsed: UInt64 = 0
    /// The index of the route it was found through, set when cached (a cache lives no longer than its routes), so
    /// a hit is counted under its route without routing the request again.
    var routeIndex = -1
    /// When `OpenFileCache` last checked this entry against the disk (monotonic nanoseconds).
    var validatedAt: UInt64 = 0
    /// For a precompressed variant (`file.gz`): the version of the original file its head was made for.
    let variantOf: FileIdentity?
    /// The open-file cache key of this file's precompressed variant, made once instead of on every request.
    /// ("gz:" keeps these entries apart from request paths, which start with "/".)
    private(set) lazy var precompressedVariantKey = "gz:" + path
    /// The cached precompressed variant last found for this file, so a hit skips hashing its key. It is used only
    /// while still cached (`cacheKey` set) and after the same revalidation as any entry.
    ///
    /// Strong rather than weak: a weakly referenced object sends every retain and release through the runtime's
    /// slow path, about 900 instructions per precompressed request. An evicted variant may so outlive its eviction
    /// until this file is next asked for gzip or is evicted itself; the two are used together, so the cache's
    /// least-recently-used order evicts them together but for the odd one at the boundary.
    var precompressedVariant: CachedFile?
    /// When a lookup last found no `file.gz` beside this file (monotonic nanoseconds; `OpenFileCache` decides how
    /// long that is trusted). Without it, every gzip request for a file that has no variant looked for one on disk.
    var precompressedVariantMissingSince: UInt64?
    /// This file as the compression filter answers it, kept while this version of the file stays cached, so the
    /// filter's work is done once per file rather than for every request: `gzipped` for clients that take gzip
    /// (nginx deflates every time), `varied` (only `Vary: Accept-Encoding` added) for the rest. The cache and the
    /// compression settings belong to one serving generation, so the settings cannot change under a kept copy.
    var gzipped: CachedFile?
    var varied: CachedFile?
    /// This file's response as HTTP/2 sends it, kept by `HTTP2FastPath` for the requests of the same second.
    var http2Response: HTTP2CachedResponse?
    /// The key `OpenFileCache` holds this entry under (cleared when it leaves the cache), and the memory it charged.
    var cacheKey: String?
    var chargedMemory = 0

    /// A precompressed variant of `original`, answered with `head` (the original's headers made gzip's).
    init(
        variantOf original: CachedFile,
        path: String,
        identity: FileIdentity,
        contents: ByteBuffer?,
        head: ByteBuffer
    ) {
        self.path = path
        self.identity = identity
        self.contentType = original.contentType
        self.cacheControl = original.cacheControl
        self.validators = original.validators
        self.contents = contents
        self.fullResponseHead = head
        self.variantOf = original.identity
    }

    /// `original` as the compression filter answers it: `head` is the filter's rewrite of its head, `body` the
    /// chunked gzip stream or the original contents.
    convenience init(filtering original: CachedFile, head: ByteBuffer, body: ByteBuffer) {
        self.init(variantOf: original, path: original.path, identity: original.identity, contents: body, head: head)
    }

    init(path: String, identity: FileIdentity, contentType: String, cacheControl: String?, contents: ByteBuffer?) {
        self.variantOf = nil
        self.path = path
        self.identity = identity
        self.contentType = contentType
        self.cacheControl = cacheControl
        self.validators = Validators(etag: identity.etag, lastModified: identity.modifiedSeconds)
        self.contents = contents
        var head = ByteBuffer()
        head.reserveCapacity(256)
        head.writeStaticString("HTTP/1.1 200 OK\r\n")
        ResponseHeaders.writeFileHeaders(
            into: &head, contentType: contentType, contentLength: identity.size, validators: validators,
            cacheControl: cacheControl)
        self.fullResponseHead = head
    }

    /// Bytes kept in memory for this entry, counted against the cache's budget.
    var memoryCost: Int {
        let contentsCost = contents?.readableBytes ?? 0
        // A file kept in memory is held twice: as `contents`, and inside its ready-made whole response.
        let readyResponseCost = contents == nil ? 0 : contentsCost + fullResponseHead.readableBytes + 64
        return contentsCost + readyResponseCost + fullResponseHead.readableBytes + path.utf8.count + 128
    }

    /// The last response made by `wholeResponse(dateLine:)`, and the `Date` line in it.
    private var readyResponse: (bytes: ByteBuffer, dateLine: ByteBuffer)?

    /// The whole keep-alive HTTP/1.1 200 response to a GET: head, `dateLine`, blank line, contents; `nil` when the
    /// file is served from disk.
    ///
    /// Made once per `Date` (a second) and then shared: a hit on a small file becomes one write of bytes that are
    /// already there, with no buffer to allocate and nothing to copy. A write still queued keeps its own reference,
    /// so the next second's response is a new buffer, never a change under it.
    func wholeResponse(dateLine: ByteBuffer) -> ByteBuffer? {
        guard let contents else { return nil }
        if let readyResponse, readyResponse.dateLine == dateLine { return readyResponse.bytes }
        var bytes = ByteBuffer()
        bytes.reserveCapacity(fullResponseHead.readableBytes + dateLine.readableBytes + 2 + contents.readableBytes)
        bytes.writeImmutableBuffer(fullResponseHead)
        bytes.writeImmutableBuffer(dateLine)
        bytes.writeStaticString("\r\n")
        bytes.writeImmutableBuffer(contents)
        readyResponse = (bytes, dateLine)
        return bytes
    }
}
