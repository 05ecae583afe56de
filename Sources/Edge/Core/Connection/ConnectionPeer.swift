import NIOCore
import Shared

/// Who is at the other end of a connection: the peer's address, the local port it came in on, and whether the peer
/// is a `real_ip.trusted` proxy whose word about the client counts.
struct ConnectionPeer {
    /// The peer's IP address, `unix:` for a Unix socket, `-` until the connection is open.
    private(set) var address = "-"
    private(set) var localPort = 0
    /// Decided on first use and kept for the connection: each decision parses the address against every trusted
    /// range.
    private var trusted: Bool?

    mutating func opened(_ channel: any Channel) {
        address = channel.remoteAddress.map(Self.describe) ?? "-"
        localPort = channel.localAddress?.port ?? 0
    }

    mutating func isTrusted(by realIP: RealIPConfig) -> Bool {
        if let trusted { return trusted }
        let decided = realIP.trusts(address)
        trusted = decided
        return decided
    }

    /// The client's address as the access log and the access rules see it: the peer's, or the one a trusted peer
    /// gave in `real_ip.header`.
    mutating func clientAddress(of head: RequestHead?, realIP: RealIPConfig) -> String {
        guard let head, isTrusted(by: realIP) else { return address }
        return ProxyHeaders.claimedClientAddress(headers: head.headers, realIP: realIP) ?? address
    }

    private static func describe(_ address: SocketAddress) -> String {
        switch address {
        case .v4, .v6: address.ipAddress ?? "-"
        case .unixDomainSocket: "unix:"
        }
    }
}
