/// An address to listen on or connect to: `HOST:PORT`, `[IPv6]:PORT`, `*:PORT` or `unix:PATH`.
public enum BindAddress: Hashable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses the text forms above; throws with a message naming what is wrong.
    public init(parsing text: String) throws {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard !path.isEmpty else { throw ConfigValueError("invalid address '\(text)': unix: needs a socket path") }
            // sun_path holds 108 bytes including the terminating NUL.
            guard path.utf8.count < 108 else {
                throw ConfigValueError("invalid address '\(text)': socket path longer than 107 bytes")
            }
            self = .unix(path: path)
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ConfigValueError("invalid address '\(text)': expected [IPv6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigValueError("invalid address '\(text)': expected HOST:PORT or unix:PATH")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigValueError("invalid address '\(text)': port must be a number from 0 to 65535")
        }
        let normalizedHost = host.isEmpty || host == "*" ? "0.0.0.0" : String(host)
        guard normalizedHost == "localhost" || Self.isIPLiteral(normalizedHost) else {
            throw ConfigValueError("invalid address '\(text)': host must be an IP address, localhost or *")
        }
        self = .tcp(host: normalizedHost, port: port)
    }

    /// Whether this is an IPv6 address (`[::]:443`, `[::1]:8080`).
    public var isIPv6: Bool {
        if case .tcp(let host, _) = self { host.contains(":") } else { false }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }

    private static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

extension BindAddress: Decodable {
    public init(from decoder: any Decoder) throws {
        try self.init(parsing: decoder.singleValueContainer().decode(String.self))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
