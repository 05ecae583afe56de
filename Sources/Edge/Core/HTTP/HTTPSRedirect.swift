import Logging
import Shared

/// `redirect_to_https`: where a plain-HTTP request is sent on https. Only hosts a TLS certificate names are
/// redirected, so Edge never becomes an open redirector for arbitrary `Host` headers.
public struct HTTPSRedirect: Sendable {
    /// The names of every TLS certificate Edge serves.
    public var names: ServerNameMatcher
    /// The port of the https listener; 443 is left out of the URL.
    public var httpsPort: Int

    public init(names: ServerNameMatcher, httpsPort: Int) {
        self.names = names
        self.httpsPort = httpsPort
    }

    /// `https://HOST[:PORT]TARGET` for a request with `Host: host` and origin-form `target`; `nil` when the host is
    /// missing, malformed or not one of the certificates' names (the caller answers 400).
    public func location(host: String?, target: String) -> String? {
        guard let host, let name = Self.hostName(host), names.covers(name), target.first == "/" else { return nil }
        let port = httpsPort == 443 ? "" : ":\(httpsPort)"
        return "https://\(name)\(port)\(target)"
    }

    /// The answer to `head` on a redirecting listener: 308 to the same URL on https, or 400 (logged) when its host is
    /// not one to send clients to.
    func response(to head: RequestHead, logger: Logger, peer: String) -> Response {
        guard let location = location(host: head.host, target: head.target) else {
            logger.info(
                "https redirect refused: Host is not a name of Edge's certificates",
                metadata: ["client": "\(peer)", "host": "\(head.host ?? "-")"])
            return .simple(.badRequest)
        }
        // 308 rather than 301: the client repeats the method and body, so a POST stays a POST.
        return .simple(.permanentRedirect, headers: [("Location", location)], omitBody: head.method.isHEAD)
    }

    /// The host part of a `Host` value (`example.com:8080` → `example.com`), lower-cased; `nil` for anything that is
    /// not a plain DNS name (IP literals have no certificate here).
    static func hostName(_ value: String) -> String? {
        var name = Substring(value)
        if let colon = name.lastIndex(of: ":") {
            guard name[name.index(after: colon)...].allSatisfy(\.isASCIIDigit) else { return nil }
            name = name[..<colon]
        }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".")
        }
        guard !name.isEmpty, allowed else { return nil }
        return name.lowercased()
    }
}
