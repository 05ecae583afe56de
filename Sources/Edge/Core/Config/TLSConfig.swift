import Shared

/// `listen[].tls`: terminate TLS on this listener with these certificates.
public struct TLSConfig: Sendable, Hashable {
    /// Certificate/key pairs. SNI picks the first whose names match; the first is the default.
    public var certificates: [CertificatePairConfig] = []
    /// The TLS versions offered; only 1.2 and 1.3 exist here (older ones are broken and never offered).
    public var protocols: [TLSProtocol] = [.tls12, .tls13]
    /// Offer HTTP/2 by ALPN (`h2`), besides `http/1.1`.
    public var http2 = true
    /// `Strict-Transport-Security: max-age=` on every TLS response; 0 sends no header.
    public var hsts = 0

    /// No certificates yet; decoding fills them in.
    public init() {}

    /// The `Strict-Transport-Security` header line, or `nil` when HSTS is off.
    public var hstsHeaderLine: String? {
        hsts > 0 ? "Strict-Transport-Security: max-age=\(hsts)\r\n" : nil
    }
}

/// One `certificates` entry: a PEM chain (leaf first, then intermediates) and its private key.
public struct CertificatePairConfig: Sendable, Hashable {
    /// The PEM file with the leaf certificate and the intermediates sent after it.
    public var cert: String
    /// The PEM private key file (RSA or ECDSA) matching the leaf.
    public var key: String

    public init(cert: String, key: String) {
        self.cert = cert
        self.key = key
    }
}

/// A TLS version as written in `protocols`.
public enum TLSProtocol: String, Sendable, Hashable, Comparable, Decodable {
    case tls12 = "TLSv1.2"
    case tls13 = "TLSv1.3"

    public static func < (lhs: TLSProtocol, rhs: TLSProtocol) -> Bool { lhs == .tls12 && rhs == .tls13 }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = TLSProtocol(rawValue: text) else {
            throw ConfigValueError(
                "unknown TLS version '\(text)' (expected TLSv1.2 or TLSv1.3; older versions are not offered)")
        }
        self = value
    }
}

extension TLSConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case certificates, protocols, http2, hsts
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        certificates = container.value(.certificates, default: certificates, decoder)
        protocols = container.value(.protocols, default: protocols, decoder)
        http2 = container.value(.http2, default: http2, decoder)
        hsts = container.value(.hsts, default: hsts, decoder)
        if certificates.isEmpty {
            decoder.diagnostics.record("needs at least one cert/key pair", at: decoder.codingPath + [Keys.certificates])
        }
        if protocols.isEmpty {
            decoder.diagnostics.record(
                "needs at least one of TLSv1.2, TLSv1.3", at: decoder.codingPath + [Keys.protocols])
        }
        if hsts < 0 {
            decoder.diagnostics.record("must be 0 (off) or a number of seconds", at: decoder.codingPath + [Keys.hsts])
        }
    }
}

extension CertificatePairConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case cert, key
    }

    public init(from decoder: any Decoder) throws {
        self.init(cert: "", key: "")
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        if let cert: String = container.required(.cert, decoder) { self.cert = cert }
        if let key: String = container.required(.key, decoder) { self.key = key }
    }
}
