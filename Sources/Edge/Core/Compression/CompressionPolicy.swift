import Shared

/// What the compression filter does to one response.
public enum CompressionDecision: Equatable, Sendable {
    /// Not a compressible response: left alone.
    case untouched
    /// A compressible type sent as is (too short, a range, or a client that does not take gzip): it still gets
    /// `Vary: Accept-Encoding`, so a cache never hands this variant to a client that asked differently.
    case varyOnly
    /// Gzipped (for HEAD and 304: the headers a gzipped GET would carry).
    case gzip
}

/// The facts about a response that decide its compression.
public struct CompressionCandidate: Sendable {
    public var status: Int
    /// `Content-Type`, parameters included.
    public var mediaType: String?
    /// The body's length, when known before it is sent.
    public var length: Int?
    /// It already has a `Content-Encoding` other than `identity`.
    public var isEncoded = false
    /// `Cache-Control: no-transform`.
    public var forbidsTransform = false
    /// A `206` or anything carrying `Content-Range`.
    public var isPartial = false

    public init(status: Int, mediaType: String?, length: Int?) {
        self.status = status
        self.mediaType = mediaType
        self.length = length
    }
}

/// The rules of `compression` (docs/compression.md), kept free of I/O so each one is tested on its own.
public struct CompressionPolicy: Sendable {
    public let level: Int
    public let minLength: Int
    /// The configured types, lowercased, as bytes.
    private let types: [[UInt8]]

    public init(_ config: CompressionConfig) {
        level = config.gzipLevel
        minLength = config.minLength.bytes
        types = config.types.map { Array($0.lowercased().utf8) }
    }

    /// Whether `mediaType` (parameters ignored, case-insensitive) is one of `types`.
    ///
    /// Compared as bytes: splitting and lowercasing the `String` went grapheme by grapheme, about 6,000
    /// instructions for every compressible response, more than the rest of its HTTP handling.
    public func isCompressible(_ mediaType: String?) -> Bool {
        guard var mediaType, !types.isEmpty else { return false }
        return mediaType.withUTF8 { utf8 in
            let essence = Self.essence(of: UnsafeRawBufferPointer(utf8))
            return types.contains { type in type.withUnsafeBytes { ASCII.equalsIgnoringCase(essence, lowercased: $0) } }
        }
    }

    /// The type without its parameters and surrounding whitespace: `text/html` of `text/html; charset=utf-8`.
    static func essence(of mediaType: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let end = mediaType.firstIndex(of: UInt8(ascii: ";")) ?? mediaType.count
        return ASCII.trimmingBlanks(UnsafeRawBufferPointer(rebasing: mediaType[..<end]))
    }

    /// The decision for `response`, sent to a client that does (`acceptsGzip`) or does not take gzip.
    /// HTTP/1.0 clients get no compression (nginx's `gzip_http_version 1.1`): without chunked coding, a gzipped
    /// stream could only be delimited by closing the connection.
    public func decide(
        _ response: CompressionCandidate,
        acceptsGzip: Bool,
        clientIsHTTP10: Bool
    ) -> CompressionDecision {
        guard level > 0, isCompressible(response.mediaType) else { return .untouched }
        guard !response.isEncoded, !response.forbidsTransform else { return .untouched }
        switch response.status {
        case 100..<200, 204: return .untouched
        default: break
        }
        if response.isPartial || response.status == 206 { return .varyOnly }
        if let length = response.length, length < minLength { return .varyOnly }
        guard acceptsGzip, !clientIsHTTP10 else { return .varyOnly }
        return .gzip
    }

    /// The decision for a proxied response, whose facts are read from the upstream's head.
    func decide(proxied upstream: ResponseHead, acceptsGzip: Bool, clientIsHTTP10: Bool) -> CompressionDecision {
        guard level > 0 else { return .untouched }
        var length: Int?
        if case .length(let known) = upstream.bodyFraming { length = known }
        var candidate = CompressionCandidate(
            status: upstream.status, mediaType: upstream.headers.first("content-type"), length: length)
        if let encoding = upstream.headers.first("content-encoding") {
            candidate.isEncoded = encoding.trimmedOfWhitespace().lowercased() != "identity"
        }
        candidate.forbidsTransform = upstream.headers.all("cache-control").contains {
            $0.lowercased().contains("no-transform")
        }
        candidate.isPartial = upstream.headers.first("content-range") != nil
        return decide(candidate, acceptsGzip: acceptsGzip, clientIsHTTP10: clientIsHTTP10)
    }
}
