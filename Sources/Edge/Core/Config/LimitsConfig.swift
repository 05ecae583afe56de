import Shared

/// `limits`: how big a request may be and how many connections are served at once.
public struct LimitsConfig: Sendable, Hashable {
    /// Request line plus headers; larger heads get 431.
    public var maxHeaderSize: ByteSize = .kibibytes(16)
    /// Request target length; longer URIs get 414.
    public var maxURILength: ByteSize = .kibibytes(8)
    /// Connections served at once across all listeners; more are closed at accept.
    public var maxConnections = 10_000
    /// Connections at once from one client address (the TCP peer; `real_ip.trusted` peers are not counted);
    /// 0 = unlimited.
    public var maxConnectionsPerIP = 0
    /// Request bodies larger than this get 413 (before reading when `Content-Length` says so).
    public var maxBodySize: ByteSize = .mebibytes(100)

    /// The defaults of DESIGN.md §4.
    public init() {}
}

extension LimitsConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case maxHeaderSize = "max_header_size"
        case maxURILength = "max_uri_length"
        case maxConnections = "max_connections"
        case maxConnectionsPerIP = "max_connections_per_ip"
        case maxBodySize = "max_body_size"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        maxHeaderSize = container.value(.maxHeaderSize, default: maxHeaderSize, decoder)
        maxURILength = container.value(.maxURILength, default: maxURILength, decoder)
        maxConnections = container.value(.maxConnections, default: maxConnections, decoder)
        maxConnectionsPerIP = container.value(.maxConnectionsPerIP, default: maxConnectionsPerIP, decoder)
        maxBodySize = container.value(.maxBodySize, default: maxBodySize, decoder)
        if maxHeaderSize.bytes < 256 {
            decoder.diagnostics.record("must be at least 256 bytes", at: decoder.codingPath + [Keys.maxHeaderSize])
        }
        if maxURILength.bytes < 16 {
            decoder.diagnostics.record("must be at least 16 bytes", at: decoder.codingPath + [Keys.maxURILength])
        }
        if maxConnections < 1 {
            decoder.diagnostics.record("must be at least 1", at: decoder.codingPath + [Keys.maxConnections])
        }
        if maxConnectionsPerIP < 0 {
            decoder.diagnostics.record(
                "must be 0 (unlimited) or more", at: decoder.codingPath + [Keys.maxConnectionsPerIP])
        }
    }
}
