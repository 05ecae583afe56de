import Shared

/// One `listen` entry: an address and how connections on it are served.
public struct ListenConfig: Sendable, Hashable {
    /// Where to accept connections; port 0 asks the kernel for a free port (tests use this).
    public var address: BindAddress

    /// A plain-HTTP listener on `address`.
    public init(address: BindAddress) {
        self.address = address
    }
}

extension ListenConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case address
    }

    public init(from decoder: any Decoder) throws {
        self.init(address: .tcp(host: "127.0.0.1", port: 0))
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        if let address: BindAddress = container.required(.address, decoder) {
            self.address = address
        }
    }
}
