import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Opens files for `sendfile`, making sure the descriptor is the version of the file the response head describes.
enum FileOpener {
    /// Why a file could not be opened as the response described it.
    enum Failure: Error {
        /// It is no longer the version the response head describes (replaced, removed): look it up again.
        case changed
        /// `open` failed for another reason (out of descriptors, permissions).
        case failed(Errno)
    }

    /// A handle on `path` if it is still the file described by `identity`.
    static func open(_ path: String, expecting identity: FileIdentity) -> Result<NIOFileHandle, Failure> {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            let error = Errno(errno)
            return .failure(error.meansMissing ? .changed : .failed(error))
        }
        guard case .success(let opened) = FileIdentity.of(descriptor: descriptor), opened == identity else {
            close(descriptor)
            return .failure(.changed)
        }
        return .success(NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor))
    }

}
