import NIOCore

/// What Linux's `TCP_INFO` socket option reports about a connection, read when a decision needs it.
enum TCPInfo {
    /// `struct tcp_info` (linux/tcp.h) up to and including `tcpi_bytes_acked`, the sixteenth 64-bit word (byte
    /// offset 120, Linux 4.1 and later). Glibc's own `tcp_info` stops before that field; the kernel fills as many
    /// bytes as it is given.
    private typealias Prefix = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
    )

    /// How many bytes the peer has acknowledged; `nil` when `channel` is not a TCP socket (a Unix socket, an HTTP/2
    /// stream) or the kernel does not say.
    static func bytesAcknowledged(on channel: any Channel) -> UInt64? {
        guard let provider = channel as? SocketOptionProvider else { return nil }
        let info: EventLoopFuture<Prefix> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(6 /* IPPROTO_TCP */), name: SocketOptionName(11 /* TCP_INFO */))
        var acknowledged: UInt64?
        // On the channel's own loop the option is read at once and the future is already complete.
        info.assumeIsolated().whenSuccess { acknowledged = $0.15 }
        return acknowledged == 0 ? nil : acknowledged
    }
}
