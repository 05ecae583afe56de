import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Listening sockets handed over by systemd socket activation (sd_listen_fds(3)): `LISTEN_PID` names this process,
/// `LISTEN_FDS` counts descriptors from 3, `LISTEN_FDNAMES` names them (`FileDescriptorName=`).
///
/// A server takes the inherited socket that belongs to each configured address, by name or by the socket's own
/// address, and binds the others itself; an inherited socket no address claims is a configuration error.
public struct InheritedSockets: Sendable {
    public struct Socket: Sendable, CustomStringConvertible {
        public let descriptor: CInt
        /// `FileDescriptorName=`, or systemd's default (the socket unit's name).
        public let name: String
        /// What the socket is bound to, from `getsockname`; `nil` for a family other than IP or Unix.
        public let address: SocketAddress?

        public var description: String {
            "fd \(descriptor) (\(name.isEmpty ? "unnamed" : name), \(address.map(Self.describe) ?? "unknown address"))"
        }

        static func describe(_ address: SocketAddress) -> String {
            switch address {
            case .v4, .v6: "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
            case .unixDomainSocket: "unix:\(address.pathname ?? "?")"
            }
        }
    }

    public private(set) var unclaimed: [Socket]

    public init(_ sockets: [Socket]) {
        self.unclaimed = sockets
    }

    /// The sockets passed to this process, if any, taken out of the environment so that no child process (an
    /// AppServer worker, a new Edge binary) mistakes them for its own. Each is made close-on-exec.
    public static func fromEnvironment() -> InheritedSockets {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }), Int32(pidText) == getpid(),
            let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }), let count = Int32(countText), count > 0
        else { return InheritedSockets([]) }
        let names =
            getenv("LISTEN_FDNAMES").map {
                String(cString: $0).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            } ?? []
        let sockets = (0..<count).map { offset -> Socket in
            let descriptor = 3 + offset
            _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD) | FD_CLOEXEC)
            let name = Int(offset) < names.count ? names[Int(offset)] : ""
            return Socket(descriptor: descriptor, name: name, address: localAddress(of: descriptor))
        }
        return InheritedSockets(sockets)
    }

    /// The inherited socket for `address`: the one named `name` if given, else the one bound to `address` itself.
    /// `nil` when none is; the caller binds the address as usual.
    public mutating func take(for address: BindAddress, name: String? = nil) -> Socket? {
        let index: Int?
        if let name {
            index = unclaimed.firstIndex { $0.name == name }
        } else {
            index = unclaimed.firstIndex { $0.address.map { Self.address($0, matches: address) } ?? false }
        }
        return index.map { unclaimed.remove(at: $0) }
    }

    /// Whether a socket bound to `bound` serves the configured `address`.
    static func address(_ bound: SocketAddress, matches address: BindAddress) -> Bool {
        switch (address, bound) {
        case (.unix(let path), .unixDomainSocket):
            return bound.pathname == path
        case (.tcp(let host, let port), .v4), (.tcp(let host, let port), .v6):
            // Port 0 asks for any port: a socket on the host serves it (in `listen` order; this is how a new binary
            // takes over listeners whose port the kernel chose).
            guard port == 0 || bound.port == port else { return false }
            let wanted = try? SocketAddress.makeAddressResolvingHost(
                host == "localhost" ? "127.0.0.1" : host, port: port)
            return wanted?.ipAddress == bound.ipAddress
        default:
            return false
        }
    }

    private static func localAddress(of descriptor: CInt) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        let family = CInt(storage.ss_family)
        return withUnsafePointer(to: &storage) { pointer -> SocketAddress? in
            switch family {
            case AF_INET:
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    SocketAddress($0.pointee, host: "")
                }
            case AF_INET6:
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    SocketAddress($0.pointee, host: "")
                }
            case AF_UNIX:
                let path = pointer.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { unix in
                    withUnsafeBytes(of: unix.pointee.sun_path) {
                        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                    }
                }
                return try? SocketAddress(unixDomainSocketPath: path)
            default:
                return nil
            }
        }
    }
}
