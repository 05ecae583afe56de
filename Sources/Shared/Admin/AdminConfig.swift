/// `admin`: where a binary serves `/metrics` and `/status`. Absent, the default, means no admin listener.
///
/// It is its own listener, never one of the public ones: metrics name upstreams, routes and workers, which a
/// public client has no business reading. Bind it to loopback or a Unix socket, and scrape it from there.
public struct AdminConfig: Sendable, Hashable {
    public var listen: BindAddress

    public init(listen: BindAddress) {
        self.listen = listen
    }
}

extension AdminConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case listen
    }

    /// A problem (not a mapping, no `listen`) is recorded in the decoder's diagnostics, which refuse the file.
    public init(from decoder: any Decoder) throws {
        let container = decoder.strictContainer(keyedBy: Keys.self)
        listen = container?.required(.listen, decoder) ?? .tcp(host: "127.0.0.1", port: 0)
    }

    /// Records what is wrong with `listen` given the binary's public addresses: the same address (or port, against a
    /// wildcard) is an error; an address beyond loopback is a warning, as anyone who reaches it reads the metrics.
    public func check(against publicAddresses: [BindAddress], into diagnostics: ConfigDiagnostics) {
        let keyPath = "admin.listen"
        for address in publicAddresses where Self.collide(listen, address) {
            diagnostics.record(
                "\(listen) is also a public listener; the admin listener needs an address of its own", keyPath: keyPath)
        }
        if let exposureWarning { diagnostics.record(exposureWarning, keyPath: keyPath, isWarning: true) }
    }

    /// Set when `listen` is reachable beyond this host.
    public var exposureWarning: String? {
        guard case .tcp(let host, _) = listen, !(host == "localhost" || host.hasPrefix("127.") || host == "::1")
        else { return nil }
        return "\(listen) is reachable beyond this host: anyone who can connect reads the metrics and status; "
            + "prefer 127.0.0.1 or a unix: socket (or firewall the port)"
    }

    private static func collide(_ a: BindAddress, _ b: BindAddress) -> Bool {
        switch (a, b) {
        case (.unix(let x), .unix(let y)): return x == y
        case (.tcp(let hostA, let portA), .tcp(let hostB, let portB)):
            guard portA == portB, portA != 0 else { return false }
            let wildcards: Set<String> = ["0.0.0.0", "::"]
            return hostA == hostB || wildcards.contains(hostA) || wildcards.contains(hostB)
        default: return false
        }
    }

    /// A Unix socket path relative to the config file's directory, as the binaries resolve their other paths.
    public func resolved(relativeTo configFile: String) -> AdminConfig {
        guard case .unix(let path) = listen else { return self }
        return AdminConfig(listen: .unix(path: ConfigFile.resolve(path, relativeTo: configFile)))
    }
}
