import Dispatch

/// Looked-up files by request path, for one event loop (so no locks), re-validated with one `stat` per hit, or
/// at most once per `revalidateAfter` when that is set (nginx's `open_file_cache_valid`).
///
/// A hit whose file was replaced, rewritten or removed since it was last checked is dropped and looked up again, so
/// a deploy never serves stale bytes for longer than `revalidateAfter`. Memory is bounded by entry count and by
/// bytes held; when either is exceeded the least recently used quarter is evicted.
public final class OpenFileCache {
    private var entries: [String: CachedFile] = [:]
    private var memoryUsed = 0
    private var tick: UInt64 = 0
    private let maxEntries: Int
    private let maxMemory: Int
    /// Nanoseconds a checked entry is trusted without another `stat`; 0 checks on every hit.
    private let revalidateAfter: UInt64
    /// Monotonic nanoseconds; injected so tests can move time.
    private let now: () -> UInt64
    /// This loop's counts for Edge's metrics, when the admin listener is on: lookups are counted as hits and misses.
    let metrics: LoopMetrics?

    /// A cache of at most `maxEntries` files holding at most `maxMemory` bytes of contents.
    public convenience init(
        maxEntries: Int = 10_000, maxMemory: Int = 64 << 20, revalidateAfterNanoseconds: UInt64 = 0,
        now: @escaping () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }
    ) {
        self.init(
            maxEntries: maxEntries, maxMemory: maxMemory, revalidateAfterNanoseconds: revalidateAfterNanoseconds,
            now: now, metrics: nil)
    }

    /// The same, counting its lookups in `metrics`.
    init(
        maxEntries: Int = 10_000, maxMemory: Int = 64 << 20, revalidateAfterNanoseconds: UInt64 = 0,
        now: @escaping () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }, metrics: LoopMetrics?
    ) {
        self.metrics = metrics
        self.maxEntries = maxEntries
        self.maxMemory = maxMemory
        self.revalidateAfter = revalidateAfterNanoseconds
        self.now = now
    }

    /// Number of cached files.
    public var count: Int { entries.count }

    /// The cached file for `key` if it is still the file on disk; a stale entry is removed.
    public func validEntry(for key: String) -> CachedFile? {
        guard let entry = entries[key], let valid = revalidated(entry, key: key) else {
            metrics?.count(.cacheMisses)
            return nil
        }
        metrics?.count(.cacheHits)
        return valid
    }

    /// `entry`, reached through a link another entry keeps (a file's precompressed variant) instead of a lookup,
    /// after the same check `validEntry(for:)` makes. A stale entry is dropped if it is still the one under `key`.
    public func revalidated(_ entry: CachedFile, key: String) -> CachedFile? {
        let checkedNow = revalidateAfter > 0 ? now() : 0
        if revalidateAfter == 0 || checkedNow &- entry.validatedAt >= revalidateAfter {
            guard case .success(let identity) = FileIdentity.of(path: entry.path), identity == entry.identity else {
                if entries[key] === entry { remove(key) }
                return nil
            }
            entry.validatedAt = checkedNow
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
        // Looked up from the disk just now.
        if revalidateAfter > 0 { file.validatedAt = now() }
        entries[key] = file
        file.cacheKey = key
        file.chargedMemory = file.memoryCost
        memoryUsed += file.chargedMemory
        if entries.count > maxEntries || memoryUsed > maxMemory { evictLeastRecentlyUsed() }
    }

    /// Remembers that `file` has no precompressed variant on disk just now. The absence is trusted as long as an
    /// entry is (`revalidateAfter`), so a `file.gz` added later is found as soon as a replaced file would be.
    public func noteMissingPrecompressedVariant(of file: CachedFile) {
        guard revalidateAfter > 0 else { return }
        file.precompressedVariantMissingSince = now()
    }

    /// Whether `file` was found without a precompressed variant recently enough not to look on disk again. With
    /// no revalidation interval, never: every request looks, as every hit is checked.
    public func knowsNoPrecompressedVariant(of file: CachedFile) -> Bool {
        guard revalidateAfter > 0, let since = file.precompressedVariantMissingSince else { return false }
        return now() &- since < revalidateAfter
    }

    /// Where a file keeps one of the compression filter's answers (`CachedFile.gzipped`, `CachedFile.varied`).
    public typealias FilteredSlot = ReferenceWritableKeyPath<CachedFile, CachedFile?>

    /// Keeps `copy`, the compression filter's answer for `file`, in `slot` of `file` and charges its memory, if
    /// `file` is still cached (once evicted, it is not worth a copy).
    public func keep(_ copy: CachedFile, in slot: FilteredSlot, of file: CachedFile) {
        guard let key = file.cacheKey, entries[key] === file else { return }
        if let replaced = file[keyPath: slot] {
            file.chargedMemory -= replaced.memoryCost
            memoryUsed -= replaced.memoryCost
        }
        file[keyPath: slot] = copy
        file.chargedMemory += copy.memoryCost
        memoryUsed += copy.memoryCost
        if memoryUsed > maxMemory { evictLeastRecentlyUsed() }
    }

    /// Bytes held, as charged for the entries.
    var memoryInUse: Int { memoryUsed }

    private func remove(_ key: String) {
        guard let old = entries.removeValue(forKey: key) else { return }
        memoryUsed -= old.chargedMemory
        old.cacheKey = nil  // links other entries keep to it (a precompressed variant's) see that it left
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
