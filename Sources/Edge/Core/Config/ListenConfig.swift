import Shared

/// One `listen` entry: an address and how connections on it are served.
public struct ListenConfig: Sendable, Hashable {
    /// Where to accept connections; port 0 asks the kernel for a free port (tests use this).
    public var address: BindAddress
    /// TLS termination on this listener; `nil` serves plain HTTP.
    public var tls: TLSConfig?
    /// A plain listener that answers every request with 308 to the same URL on https.
    public var redirectToHTTPS = false
    /// With socket activation: the `FileDescriptorName=` of the inherited socket for this entry. Without it the
    /// inherited socket bound to `address` is taken.
    public var fdName: String?

    /// A plain-HTTP listener on `address`.
    public init(address: BindAddress, tls: TLSConfig? = nil, redirectToHTTPS: Bool = false) {
        self.address = address
        self.tls = tls
        self.redirectToHTTPS = redirectToHTTPS
    }
}

extension ListenConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case address, tls
        case redirectToHTTPS = "redirect_to_https"
        case fdName = "fd_name"
    }

    public init(from decoder: any Decoder) throws {
        self.init(address: .tcp(host: "127.0.0.1", port: 0))
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        if let address: BindAddress = container.required(.address, decoder) {
            self.address = address
        }
        tls = container.value(.tls, default: nil, decoder)
        redirectToHTTPS = container.value(.redirectToHTTPS, default: false, decoder)
        fdName = container.value(.fdName, default: nil, decoder)
        if tls != nil && redirectToHTTPS {
            decoder.diagnostics.record(
                "a TLS listener cannot redirect to https; set it on a plain listener",
                at: decoder.codingPath + [Keys.redirectToHTTPS])
        }
    }
}
