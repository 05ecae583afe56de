import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A listening socket bound with plain system calls, so its owner knows its descriptor: AppServer's master binds
/// its one socket this way and every worker inherits it; Edge binds its listeners this way so that a new binary
/// can inherit them on an upgrade (USR2).
///
/// A socket is never unlinked or rebound while its server lives; that is what lets old and new processes share it
/// without a refused connection.
public enum ListeningSocket {
    /// Binds and listens on `address`. A leftover Unix socket file is removed only when nothing accepts on it; a live
    /// one means another server owns it, which is an error. `mode` sets a Unix socket's permissions; `ipv6Only`
    /// keeps an IPv6 socket from taking IPv4 too, so `*:443` and `[::]:443` can both be bound.
    public static func open(
        _ address: BindAddress, mode: UInt16? = nil, backlog: Int32 = 2048, ipv6Only: Bool = false
    ) throws -> CInt {
        let fd: CInt
        switch address {
        case .unix(let path):
            fd = try openUnix(path: path, mode: mode, backlog: backlog)
        case .tcp(let host, let port):
            fd = try openTCP(
                host: host == "localhost" ? "127.0.0.1" : host, port: port, backlog: backlog, ipv6Only: ipv6Only)
        }
        // Every worker polls the same socket and only one wins each connection: the others' accept must fail
        // with EAGAIN instead of blocking. (The flag lives on the shared open file, so it is set once, here.)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    private static func openUnix(path: String, mode: UInt16?, backlog: Int32) throws -> CInt {
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else {
                throw ConfigValueError("bind: \(path) exists and is not a socket; refusing to replace it")
            }
            if isAccepting(path: path) {
                throw ConfigValueError("bind: another server is already listening on \(path)")
            }
            unlink(path)  // stale: left by a server that did not exit cleanly
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ConfigValueError("bind: socket(): \(Errno(errno))") }
        var address = try unixAddress(path)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let error = Errno(errno)
            close(fd)
            throw ConfigValueError("bind: cannot bind \(path): \(error)")
        }
        if let mode { chmod(path, mode_t(mode)) }
        guard listen(fd, backlog) == 0 else {
            let error = Errno(errno)
            close(fd)
            throw ConfigValueError("bind: listen on \(path): \(error)")
        }
        return fd
    }

    private static func openTCP(host: String, port: Int, backlog: Int32, ipv6Only: Bool) throws -> CInt {
        guard let bytes = CIDR.parseAddress(host) else { throw ConfigValueError("bind: invalid host \(host)") }
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ConfigValueError("bind: socket(): \(Errno(errno))") }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        if family == AF_INET6 && ipv6Only {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<CInt>.size))
        }
        var result: CInt
        if family == AF_INET {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: bytes) }
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        guard result == 0, listen(fd, backlog) == 0 else {
            let error = Errno(errno)
            close(fd)
            throw ConfigValueError("bind: \(error)")
        }
        return fd
    }

    /// Sets the listen queue's length of a socket already listening (listening again only changes the length).
    public static func setBacklog(_ fd: CInt, _ backlog: Int32) {
        _ = listen(fd, backlog)
    }

    /// The address actually bound (TCP port 0 becomes the kernel's choice).
    public static func localDescription(_ fd: CInt, _ address: BindAddress) -> String {
        guard case .tcp(let host, _) = address else { return address.description }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let port: UInt16 = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return BindAddress.tcp(host: host, port: Int(port)).description
    }

    private static func isAccepting(path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, var address = try? unixAddress(path) else { return false }
        defer { close(fd) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    private static func unixAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ConfigValueError("bind: socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }
}

/// A POSIX error number, printable.
public struct Errno: Error, CustomStringConvertible {
    public var code: CInt
    public init(_ code: CInt) { self.code = code }
    public var description: String { String(cString: strerror(code)) }
}
