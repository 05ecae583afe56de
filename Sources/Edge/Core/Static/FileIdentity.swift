#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `stat` says about a file, reduced to what tells one version of a file from another.
///
/// Two stats with equal identities name the same bytes for our purposes: a deploy that replaces a file (new inode)
/// or rewrites it (new size or modification time) changes the identity, so the cache never serves stale bytes.
public struct FileIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int
    public var modifiedSeconds: Int
    public var modifiedNanoseconds: Int
    public var kind: Kind

    /// The kinds of file a lookup distinguishes.
    public enum Kind: Hashable, Sendable {
        case regular, directory, other
    }

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = Int(status.st_size)
        modifiedSeconds = Int(status.st_mtim.tv_sec)
        modifiedNanoseconds = Int(status.st_mtim.tv_nsec)
        switch status.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        default: kind = .other
        }
    }

    /// The identity of the file at `path` (symlinks followed), or the `errno` that `stat` failed with.
    public static func of(path: String) -> Result<FileIdentity, Errno> {
        var status = stat()
        guard stat(path, &status) == 0 else { return .failure(Errno(errno)) }
        return .success(FileIdentity(status))
    }

    /// The identity of an open descriptor.
    static func of(descriptor: CInt) -> Result<FileIdentity, Errno> {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .failure(Errno(errno)) }
        return .success(FileIdentity(status))
    }

    /// The strong ETag: modification time (with nanoseconds, so two writes in one second differ) and size.
    var etag: String {
        let modified = String(modifiedSeconds, radix: 16) + String(modifiedNanoseconds / 1000, radix: 16)
        return "\"\(modified)-\(String(size, radix: 16))\""
    }
}

/// A POSIX error number with its message, for log lines.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: CInt

    public init(_ code: CInt) {
        self.code = code
    }

    public var description: String { String(cString: strerror(code)) }

    /// Whether the error says the file is not there (nginx's 404 cases); anything else but a permission error is
    /// the server's failure (500), which a cache must not remember as an answer about the file.
    public var meansMissing: Bool {
        switch code {
        case ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP: true
        default: false
        }
    }

    /// Whether the error says this process may not read the file (nginx answers 403).
    public var meansForbidden: Bool { code == EACCES || code == EPERM }
}
