import NIOCore
import Shared

/// What one listener serves new connections with: its TLS certificates (if any) and the role it plays.
struct ListenerSetup: Sendable {
    var tls: TLSListenerContext?
    var role: ListenerRole

    /// Loads every TLS listener's certificates (one context each, in `listen` order; `nil` for plain listeners).
    /// Throws naming the file at fault.
    static func loadCertificates(for listen: [ListenConfig]) throws -> [TLSListenerContext?] {
        try listen.map { entry in try entry.tls.map(TLSListenerContext.init) }
    }

    /// The setups for `listen` with its loaded certificates. `boundPorts` are the ports the listeners actually got
    /// (port 0 in a config becomes a real one), so redirects name the right port.
    static func make(
        for listen: [ListenConfig], certificates: [TLSListenerContext?], boundPorts: [Int?]
    ) -> [ListenerSetup] {
        let httpsIndex = listen.firstIndex { $0.tls != nil }
        let redirect = httpsIndex.map { index -> HTTPSRedirect in
            let names = certificates.compactMap { $0?.matcher.namesPerCertificate }.flatMap { $0 }
            let port = (index < boundPorts.count ? boundPorts[index] : nil) ?? listen[index].address.port ?? 443
            return HTTPSRedirect(names: ServerNameMatcher(namesPerCertificate: names), httpsPort: port)
        }
        return zip(listen, certificates).enumerated().map { index, pair in
            let (entry, tls) = pair
            var role = ListenerRole()
            var address = entry.address
            if case .tcp(let host, _) = address, index < boundPorts.count, let port = boundPorts[index] {
                address = .tcp(host: host, port: port)
            }
            role.name = "\(tls == nil ? "http" : "https")://\(address)"
            role.hstsHeaderLine = tls?.hstsHeaderLine
            if entry.redirectToHTTPS { role.httpsRedirect = redirect }
            return ListenerSetup(tls: tls, role: role)
        }
    }
}

extension BindAddress {
    /// The TCP port, `nil` for Unix sockets.
    var port: Int? {
        if case .tcp(_, let port) = self { return port }
        return nil
    }
}
