/// Picks the certificate for a TLS client's server name (SNI): a certificate naming the host exactly wins over one
/// whose wildcard covers it, earlier certificates win ties, and the first certificate is the default for unknown or
/// absent names.
///
/// A wildcard `*.example.com` covers exactly one label (`www.example.com`, not `example.com` nor `a.b.example.com`),
/// as browsers match them.
public struct ServerNameMatcher: Sendable, Hashable {
    /// Lower-cased DNS names per certificate, in configuration order.
    public let namesPerCertificate: [[String]]

    public init(namesPerCertificate: [[String]]) {
        self.namesPerCertificate = namesPerCertificate.map { $0.map { $0.lowercased() } }
    }

    /// The index of the certificate to present for `serverName`; 0 when none names it.
    public func certificateIndex(for serverName: String?) -> Int {
        guard let host = serverName.map(Self.normalized), !host.isEmpty else { return 0 }
        if let exact = namesPerCertificate.firstIndex(where: { $0.contains(host) }) { return exact }
        if let wildcard = namesPerCertificate.firstIndex(where: { $0.contains { Self.wildcard($0, covers: host) } }) {
            return wildcard
        }
        return 0
    }

    /// Whether any certificate is valid for `host` (exactly or by wildcard).
    public func covers(_ host: String) -> Bool {
        let host = Self.normalized(host)
        return namesPerCertificate.contains { names in names.contains { $0 == host || Self.wildcard($0, covers: host) }
        }
    }

    /// Lower case without a trailing root dot, as names compare in DNS.
    private static func normalized(_ name: String) -> String {
        var name = name.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }

    private static func wildcard(_ pattern: String, covers host: String) -> Bool {
        guard pattern.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return false }
        let label = host[..<dot]
        return !label.isEmpty && host[dot...] == pattern.dropFirst()
    }
}
