import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Opens files for `sendfile`, making sure the descriptor is the version of the file the response head describes.
enum FileOpener {
    /// A handle on `path` if it is still the file described by `identity`; `nil` otherwise.
    static func open(_ path: String, expecting identity: FileIdentity) -> NIOFileHandle? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return nil }
        guard case .success(let opened) = FileIdentity.of(descriptor: descriptor), opened == identity else {
            close(descriptor)
            return nil
        }
        return NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
    }

}
