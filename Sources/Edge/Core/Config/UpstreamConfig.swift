import Shared

/// One entry of `upstreams`: the servers a route's requests are proxied to.
public struct UpstreamConfig: Sendable, Hashable {
    /// `unix:PATH` or `HOST:PORT`; several are balanced by least connections.
    public var servers: [BindAddress]
    /// Idle pooled connections kept per event loop and server.
    public var keepalive: Int = 64

    public init(servers: [BindAddress], keepalive: Int = 64) {
        self.servers = servers
        self.keepalive = keepalive
    }
}

extension UpstreamConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case servers, keepalive
    }

    public init(from decoder: any Decoder) throws {
        self.init(servers: [])
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        servers = container.required(.servers, decoder) ?? []
        keepalive = container.value(.keepalive, default: keepalive, decoder)
        if servers.isEmpty && container.contains(.servers) {
            decoder.diagnostics.record("needs at least one server", at: decoder.codingPath + [Keys.servers])
        }
        if keepalive < 0 { decoder.diagnostics.record("must be 0 or more", at: decoder.codingPath + [Keys.keepalive]) }
    }
}

/// `real_ip`: which peers may tell Edge the client's address, and in which header.
public struct RealIPConfig: Sendable, Hashable {
    public var trusted: [CIDR] = []
    public var header: Header = .xForwardedFor

    public enum Header: String, Sendable, Hashable, Decodable {
        case xForwardedFor = "X-Forwarded-For"
        case cfConnectingIP = "CF-Connecting-IP"

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let value = Header.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
                throw ConfigValueError("unsupported header '\(text)' (expected X-Forwarded-For or CF-Connecting-IP)")
            }
            self = value
        }
    }

    public init() {}

    /// Whether `peer` may tell Edge the client's address.
    public func trusts(_ peer: String) -> Bool {
        CIDR.parseAddress(peer).map(trusts) ?? false
    }

    /// `trusts(_:)` for an address already parsed (`CIDR.parseAddress`).
    public func trusts(_ address: [UInt8]) -> Bool {
        trusted.contains { $0.contains(address) }
    }
}

extension RealIPConfig.Header: CaseIterable {}

extension RealIPConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case trusted, header
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        let ranges: [String] = container.value(.trusted, default: [], decoder)
        for (index, text) in ranges.enumerated() {
            if let cidr = CIDR(text) {
                trusted.append(cidr)
            } else {
                decoder.diagnostics.record(
                    "invalid address range '\(text)'",
                    at: decoder.codingPath + [Keys.trusted, AnyCodingKey(intValue: index)])
            }
        }
        header = container.value(.header, default: header, decoder)
    }
}
