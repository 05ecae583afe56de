import Crypto
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// An upload being written: a hidden temporary file in the media directory and the SHA-256 of what went in.
/// It becomes visible only through `keep(as:)`; `discard()` removes it.
struct PendingUpload: ~Copyable {
    struct Stored {
        var size: Int
        var sha256: String
    }

    private let directory: String
    private let temporaryPath: String
    private let fd: CInt
    private var hasher = SHA256()
    private var size = 0

    init(in directory: String) throws {
        self.directory = directory
        temporaryPath = "\(directory)/.upload-\(UUID().uuidString)"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw UploadError(message: "cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }
    }

    mutating func append(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw UploadError(message: "write \(temporaryPath): \(String(cString: strerror(errno)))")
                }
                offset += written
            }
            hasher.update(bufferPointer: bytes)
        }
        size += buffer.readableBytes
    }

    /// Makes the file durable and gives it its name (replacing a file of that name); on failure it is removed.
    consuming func keep(as name: String) throws -> Stored {
        guard fsync(fd) == 0 else {
            let failure = UploadError(message: "fsync \(temporaryPath): \(String(cString: strerror(errno)))")
            discard()
            throw failure
        }
        close(fd)
        guard rename(temporaryPath, "\(directory)/\(name)") == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw UploadError(message: "rename \(temporaryPath) to \(name): \(reason)")
        }
        return Stored(size: size, sha256: hasher.finalize().hexString)
    }

    consuming func discard() {
        close(fd)
        unlink(temporaryPath)
    }
}

struct UploadError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
