import Shared

/// `file_cache`: how Edge's per-loop open-file cache keeps up with the disk (nginx's `open_file_cache_valid`).
public struct FileCacheConfig: Sendable, Hashable {
    /// How long a cached file is trusted before it is checked against the disk again (one `stat`). `0s`, the
    /// default, checks on every request, so a deploy is visible at once; nginx's benchmark configs use `1s`.
    public var revalidate: ConfigDuration = .seconds(0)

    /// The defaults: revalidate on every request.
    public init() {}
}

extension FileCacheConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case revalidate
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        revalidate = container.value(.revalidate, default: revalidate, decoder)
        if revalidate > .seconds(60) {
            decoder.diagnostics.record(
                "at most 60s, so replaced files show within a minute", at: decoder.codingPath + [Keys.revalidate])
        }
    }
}
