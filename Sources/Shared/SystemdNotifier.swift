#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Sends `sd_notify` messages (`READY=1`, `STOPPING=1`, `STATUS=…`) to systemd when `NOTIFY_SOCKET` is set,
/// and does nothing otherwise, so the same binary runs under systemd `Type=notify` and in a terminal.
public struct SystemdNotifier: Sendable {
    private let socketPath: String?

    /// A notifier for the socket named by `NOTIFY_SOCKET` in `environment`.
    public init(environment: [String: String]) {
        self.socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// True when systemd asked for notifications.
    public var isEnabled: Bool { socketPath != nil }

    /// The watchdog interval systemd expects pings within, from `WATCHDOG_USEC`; `nil` when there is no watchdog,
    /// or when `WATCHDOG_PID` names another process (a child that inherited the environment).
    public static func watchdogInterval(environment: [String: String]) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let micros = Int64(text), micros > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"].flatMap({ Int32($0) }), pid != getpid() { return nil }
        return .microseconds(micros)
    }

    /// Sends the newline-separated `state` assignments; failures are ignored as systemd's own library does.
    public func notify(_ state: String) {
        #if os(Linux)
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        // A leading '@' names a socket in the abstract namespace, which starts with a NUL byte.
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        _ = state.withCString { message in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    sendto(fd, message, strlen(message), Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        #endif
    }
}
