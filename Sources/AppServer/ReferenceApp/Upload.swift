import AppServer
import Crypto
import Foundation
import HTTPTypes
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `POST /upload`: streams the body to a temporary file in the media directory, `fsync`s it and renames it into
/// place, so a file appears whole or not at all. A cut-off upload deletes its temporary file.
enum Upload {
    static func respond(to request: AppRequest, directory: String, writer: some ResponseWriter) async throws {
        let name = safeName(request.query["name"]) ?? UUID().uuidString.lowercased()
        let temporary = "\(directory)/.upload-\(UUID().uuidString)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw UploadError(message: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var hasher = SHA256()
        var size = 0
        do {
            for try await piece in request.body {
                try writeAll(fd, piece)
                piece.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                size += piece.readableBytes
            }
            guard fsync(fd) == 0 else { throw UploadError(message: "fsync: \(String(cString: strerror(errno)))") }
            close(fd)
            guard rename(temporary, "\(directory)/\(name)") == 0 else {
                throw UploadError(message: "rename: \(String(cString: strerror(errno)))")
            }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        let object: [String: Any] = ["name": name, "size": size, "sha256": hasher.finalize().hexString]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try await writer.write(.json(status: .created), body: ByteBuffer(bytes: data))
    }

    /// A plain file name (letters, digits, `.`, `-`, `_`), not hidden; anything else gets a generated name.
    static func safeName(_ proposed: String?) -> String? {
        guard let proposed, !proposed.isEmpty, proposed.count <= 200, !proposed.hasPrefix("."),
            proposed.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else { return nil }
        return proposed
    }

    private static func writeAll(_ fd: CInt, _ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw UploadError(message: "write: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }
}

struct UploadError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
