import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The result of looking a request path up on disk.
public enum FileLookupResult {
    /// A regular file inside the route's directory.
    case file(CachedFile)
    /// A directory named without its trailing slash: redirect to the slash form.
    case directoryWithoutSlash
    /// Nothing servable; the reason goes to the error log.
    case notFound(reason: String)
    /// The file exists but this process may not read it (nginx answers 403 too).
    case forbidden(reason: String)
    /// Looking failed for a reason that is not the file's: out of descriptors, an I/O error (500, logged).
    case failed(reason: String)

    /// The result for a failed `stat` or `open` of `path`.
    static func failure(_ error: Errno, at path: String) -> FileLookupResult {
        if error.meansMissing { return .notFound(reason: "\(path): \(error)") }
        if error.meansForbidden { return .forbidden(reason: "\(path): \(error)") }
        return .failed(reason: "\(path): \(error)")
    }
}

/// Maps a routed request path to a file on disk, refusing anything that resolves outside the route's directory.
public struct FileLookup: Sendable {
    /// Files up to this size are kept in memory and sent with the head in one write; larger ones use `sendfile`.
    public var inMemoryLimit: Int

    /// A lookup keeping files up to `inMemoryLimit` bytes in memory.
    public init(inMemoryLimit: Int = 64 * 1024) {
        self.inMemoryLimit = inMemoryLimit
    }

    /// Looks up `relativePath` (already decoded and checked by `RequestPath`) under `root`.
    /// - Parameters:
    ///   - rootRealPath: `realpath` of the route's directory, computed once at start-up.
    ///   - wantsDirectory: whether the request path ended in `/`.
    public func lookup(
        relativePath: Substring, root: String, rootRealPath: String, wantsDirectory: Bool, cacheControl: String?
    ) -> FileLookupResult {
        var path = relativePath.isEmpty ? root : root + "/" + relativePath
        if wantsDirectory && !relativePath.isEmpty { path.removeLast() }  // drop the trailing '/'
        var identity: FileIdentity
        switch FileIdentity.of(path: path) {
        case .success(let found): identity = found
        case .failure(let error): return .failure(error, at: path)
        }
        var servedName = relativePath.split(separator: "/").last ?? ""
        if identity.kind == .directory {
            guard wantsDirectory else { return .directoryWithoutSlash }
            path += "/index.html"
            servedName = "index.html"
            switch FileIdentity.of(path: path) {
            case .success(let found): identity = found
            case .failure(let error) where error.meansMissing:
                return .notFound(reason: "directory without index.html (\(path): \(error))")
            case .failure(let error): return .failure(error, at: path)
            }
        } else if wantsDirectory {
            return .notFound(reason: "\(path) is a file but was requested as a directory")
        }
        guard identity.kind == .regular else { return .notFound(reason: "\(path) is not a regular file") }
        guard let realPath = Self.realPath(path), realPath == rootRealPath || realPath.hasPrefix(rootRealPath + "/")
        else {
            return .notFound(reason: "\(path) resolves outside \(rootRealPath) (symlink)")
        }
        var contents: ByteBuffer? = nil
        if identity.size <= inMemoryLimit {
            switch Self.readSmallFile(path) {
            case .success(let (bytes, readIdentity)):
                contents = bytes
                identity = readIdentity
            case .failure(let error): return .failure(error, at: path)
            }
        } else if access(path, R_OK) != 0 {
            return .failure(Errno(errno), at: path)
        }
        let file = CachedFile(
            path: path, identity: identity, contentType: MediaTypes.contentType(forFileName: servedName),
            cacheControl: cacheControl, contents: contents)
        return .file(file)
    }

    /// The precompressed variant of `original` (`original.path + ".gz"`): a regular file, not older than the
    /// original, in the same real directory (a symlink cannot lead elsewhere); served with the original's type.
    public func precompressedSibling(of original: CachedFile) -> CachedFile? {
        let path = original.path + ".gz"
        guard case .success(var identity) = FileIdentity.of(path: path), identity.kind == .regular,
            (identity.modifiedSeconds, identity.modifiedNanoseconds)
                >= (original.identity.modifiedSeconds, original.identity.modifiedNanoseconds),
            let realOriginal = Self.realPath(original.path), let realSibling = Self.realPath(path),
            realSibling == realOriginal + ".gz" || Self.directory(of: realSibling) == Self.directory(of: realOriginal)
        else { return nil }
        var contents: ByteBuffer? = nil
        if identity.size <= inMemoryLimit {
            guard case .success(let (bytes, readIdentity)) = Self.readSmallFile(path) else { return nil }
            contents = bytes
            identity = readIdentity
        } else if access(path, R_OK) != 0 {
            return nil
        }
        // The head is made once here: the original's headers as gzip's, with the variant's exact length.
        var head = ByteBuffer()
        head.reserveCapacity(original.fullResponseHead.readableBytes + 64)
        GzipHeaderFilter.rewrite(original.fullResponseHead, for: .gzip, into: &head)
        ResponseHeaders.write("Content-Length", String(identity.size), into: &head)
        return CachedFile(variantOf: original, path: path, identity: identity, contents: contents, head: head)
    }

    private static func directory(of path: String) -> Substring {
        path[..<(path.lastIndex(of: "/") ?? path.startIndex)]
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Reads a whole small file and the identity of exactly the bytes read. A file rewritten in place while it is
    /// read is read again (a few times at most), so a deploy does not turn into errors for its readers.
    static func readSmallFile(_ path: String) -> Result<(ByteBuffer, FileIdentity), Errno> {
        var result = readSmallFileOnce(path)
        for _ in 0..<3 {
            guard case .failure(let error) = result, error.code == EAGAIN else { break }
            result = readSmallFileOnce(path)
        }
        return result
    }

    private static func readSmallFileOnce(_ path: String) -> Result<(ByteBuffer, FileIdentity), Errno> {
        // O_NONBLOCK: opening a FIFO someone swapped in must never block the event loop.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return .failure(Errno(errno)) }
        defer { close(descriptor) }
        guard case .success(let identity) = FileIdentity.of(descriptor: descriptor), identity.kind == .regular else {
            return .failure(Errno(ENOENT))
        }
        return readWhole(descriptor, as: identity).map { ($0, identity) }
    }

    /// All of the open file `descriptor`, which must still be the version `identity` describes, after the read too
    /// (a file rewritten in place while it is read fails with `EAGAIN`, and the next request looks again).
    static func readWhole(_ descriptor: CInt, as identity: FileIdentity) -> Result<ByteBuffer, Errno> {
        var buffer = ByteBufferAllocator().buffer(capacity: identity.size)
        var total = 0
        while total < identity.size {
            var readError: CInt = 0
            let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: identity.size - total) { raw in
                let result = pread(descriptor, raw.baseAddress, identity.size - total, off_t(total))
                if result < 0 { readError = errno }
                return max(result, 0)
            }
            if readError == EINTR { continue }
            if readError != 0 { return .failure(Errno(readError)) }
            if count == 0 { break }  // truncated while we read: caught by the identity check below
            total += count
        }
        guard case .success(let after) = FileIdentity.of(descriptor: descriptor), after == identity,
            total == identity.size
        else {
            return .failure(Errno(EAGAIN))
        }
        return .success(buffer)
    }
}
