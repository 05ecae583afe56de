/// Looked-up files by request path, for one event loop (so no locks), re-validated with one `stat` per hit.
///
/// A hit whose file was replaced, rewritten or removed since it was cached is dropped and looked up again, so a
/// deploy never serves stale bytes. Memory is bounded by entry count and by bytes held; when either is exceeded
/// the least recently used quarter is evicted.
public final class OpenFileCache {
    private var entries: [String: CachedFile] = [:]
    private var memoryUsed = 0
    private var tick: UInt64 = 0
    private let maxEntries: Int
    private let maxMemory: Int

    /// A cache of at most `maxEntries` files holding at most `maxMemory` bytes of contents.
    public init(maxEntries: Int = 10_000, maxMemory: Int = 64 << 20) {
        self.maxEntries = maxEntries
        self.maxMemory = maxMemory
    }

    /// Number of cached files.
    public var count: Int { entries.count }

    /// The cached file for `key` if it is still the file on disk; a stale entry is removed.
    public func validEntry(for key: String) -> CachedFile? {
        guard let entry = entries[key] else { return nil }
        guard case .success(let identity) = FileIdentity.of(path: entry.path), identity == entry.identity else {
            remove(key)
            return nil
        }
        tick &+= 1
        entry.lastUsed = tick
        return entry
    }

    /// Caches `file` under `key`, evicting old entries when over budget.
    public func insert(_ file: CachedFile, for key: String) {
        remove(key)
        tick &+= 1
        file.lastUsed = tick
        entries[key] = file
        memoryUsed += file.memoryCost
        if entries.count > maxEntries || memoryUsed > maxMemory { evictLeastRecentlyUsed() }
    }

    private func remove(_ key: String) {
        if let old = entries.removeValue(forKey: key) { memoryUsed -= old.memoryCost }
    }

    private func evictLeastRecentlyUsed() {
        // Sorting on eviction only keeps hits cheap (one counter store) at the cost of an occasional O(n log n).
        let victims = entries.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(max(1, entries.count / 4))
        for (key, _) in victims { remove(key) }
        while memoryUsed > maxMemory, let oldest = entries.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            remove(oldest.key)
        }
    }
}
