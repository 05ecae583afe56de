import NIOCore
import NIOSSL
import Shared

/// A TLS listener's certificates, loaded once per configuration generation: one `NIOSSLContext` per certificate
/// (building one is expensive; every connection shares them), and the SNI rules that pick among them.
public final class TLSListenerContext: Sendable {
    /// The contexts, in configuration order; the first is the default.
    let contexts: [NIOSSLContext]
    /// Which context a client's server name selects.
    public let matcher: ServerNameMatcher
    /// Whether ALPN offers `h2`.
    public let offersHTTP2: Bool
    /// The `Strict-Transport-Security` line added to every response, if HSTS is on.
    let hstsHeaderLine: ByteBuffer?
    /// Whether TLS 1.2 suites are chosen in Edge's order (see `ServerCipherPreference`); logged when not.
    public let usesServerCipherOrder: Bool

    /// Mozilla's "intermediate" TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are fixed by BoringSSL
    /// and all three are fine.
    static let intermediateCipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// Loads every certificate chain and key of `config`; throws naming the file at fault.
    public init(_ config: TLSConfig) throws {
        var contexts: [NIOSSLContext] = []
        var names: [[String]] = []
        var serverOrderFailed = false
        for pair in config.certificates {
            let chain: [NIOSSLCertificate]
            let key: NIOSSLPrivateKey
            do {
                chain = try NIOSSLCertificate.fromPEMFile(pair.cert)
            } catch {
                throw ConfigValueError("cannot load certificate \(pair.cert): \(error)")
            }
            guard let leaf = chain.first else { throw ConfigValueError("no PEM certificate in \(pair.cert)") }
            do {
                key = try NIOSSLPrivateKey(file: pair.key, format: .pem)
            } catch {
                throw ConfigValueError("cannot load key \(pair.key): \(error)")
            }
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            tls.minimumTLSVersion = config.protocols.min() == .tls13 ? .tlsv13 : .tlsv12
            tls.maximumTLSVersion = config.protocols.max() == .tls12 ? .tlsv12 : .tlsv13
            tls.cipherSuites = Self.intermediateCipherSuites
            tls.applicationProtocols = config.http2 ? ["h2", "http/1.1"] : ["http/1.1"]
            tls.shutdownTimeout = Self.closeNotifyWait
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: tls)
            } catch {
                throw ConfigValueError("cannot use certificate \(pair.cert) with key \(pair.key): \(error)")
            }
            if !ServerCipherPreference.apply(to: context) { serverOrderFailed = true }
            contexts.append(context)
            names.append(leaf.dnsNames)
        }
        guard !contexts.isEmpty else { throw ConfigValueError("tls needs at least one certificate") }
        self.contexts = contexts
        self.matcher = ServerNameMatcher(namesPerCertificate: names)
        self.offersHTTP2 = config.http2
        self.hstsHeaderLine = config.hstsHeaderLine.map { ByteBuffer(string: $0) }
        self.usesServerCipherOrder = !serverOrderFailed
    }

    /// How long a closing connection waits for the client's close_notify after sending its own. swift-nio-ssl keeps
    /// the connection's handler (its 32 KiB read buffer included) until this passes even when the socket closes
    /// first; at its default of 5 s, a thousand new connections a second held 100 MB and more. nginx does not wait
    /// at all: it sends its close_notify and closes.
    static let closeNotifyWait = TimeAmount.milliseconds(100)

    /// The context whose certificate a client asking for `serverName` gets.
    func context(forServerName serverName: String?) -> NIOSSLContext {
        contexts[matcher.certificateIndex(for: serverName)]
    }
}
