import Shared

/// `compression`: gzip on the fly and precompressed files (nginx's `gzip` and `gzip_static`).
public struct CompressionConfig: Sendable, Hashable {
    /// zlib level 1 (fastest) to 9 (smallest); 0 turns compression off.
    public var gzipLevel = 5
    /// Responses whose length is known and smaller than this are sent as they are.
    public var minLength = ByteSize(bytes: 256)
    /// Media types worth compressing (parameters such as `charset` are ignored when matching).
    public var types: [String] = [
        "text/html", "text/css", "text/plain", "text/javascript", "application/javascript", "application/json",
        "image/svg+xml",
    ]
    /// Serve `file.gz` beside `file` as is, when it is not older and the client accepts gzip.
    public var precompressed = true

    /// The defaults of DESIGN.md §4.
    public init() {}

    /// Whether anything is compressed on the fly.
    public var isEnabled: Bool { gzipLevel > 0 }
}

extension CompressionConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case gzipLevel = "gzip_level"
        case minLength = "min_length"
        case types, precompressed
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        gzipLevel = container.value(.gzipLevel, default: gzipLevel, decoder)
        minLength = container.value(.minLength, default: minLength, decoder)
        types = container.value(.types, default: types, decoder)
        precompressed = container.value(.precompressed, default: precompressed, decoder)
        if !(0...9).contains(gzipLevel) {
            decoder.diagnostics.record(
                "must be 0 (off) to 9, not \(gzipLevel)", at: decoder.codingPath + [Keys.gzipLevel])
        }
        for type in types where !type.contains("/") || type.contains(";") {
            decoder.diagnostics.record(
                "'\(type)' is not a media type like text/html", at: decoder.codingPath + [Keys.types])
        }
    }
}
