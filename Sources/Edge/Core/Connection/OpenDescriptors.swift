import NIOCore

/// An open descriptor on one version of a file, shared by every response that sends it. It closes when the last
/// user lets go: the cache that holds it, or a response still being written after the cache moved on.
final class OpenDescriptor {
    let handle: NIOFileHandle
    /// The version of the file the descriptor was opened on.
    let identity: FileIdentity

    init(handle: NIOFileHandle, identity: FileIdentity) {
        self.handle = handle
        self.identity = identity
    }

    deinit {
        try? handle.close()
    }
}

/// Descriptors of files served from disk, per event loop, as nginx's `open_file_cache` keeps them: a repeated
/// response costs no `open`, `fstat` and `close`. Entries are keyed by path and used only for the exact version the
/// response describes (which the file cache has just validated), so a replaced file is never served from an old
/// descriptor.
final class OpenDescriptors {
    private var byPath: [String: OpenDescriptor] = [:]
    private let limit: Int

    /// At most `limit` descriptors stay open per event loop.
    init(limit: Int = 1024) {
        self.limit = limit
    }

    /// A descriptor on `path` as `identity` describes it, from the cache or newly opened.
    func descriptor(for path: String, identity: FileIdentity) -> Result<OpenDescriptor, FileOpener.Failure> {
        if let cached = byPath[path], cached.identity == identity { return .success(cached) }
        let handle: NIOFileHandle
        switch FileOpener.open(path, expecting: identity) {
        case .success(let opened): handle = opened
        case .failure(let failure):
            byPath[path] = nil
            return .failure(failure)
        }
        let opened = OpenDescriptor(handle: handle, identity: identity)
        if byPath[path] == nil && byPath.count >= limit, let victim = byPath.keys.first {
            // Any entry will do: in-flight responses keep their descriptor alive, and a busy file comes back at once.
            byPath[victim] = nil
        }
        byPath[path] = opened
        return .success(opened)
    }
}
