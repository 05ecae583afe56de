import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A listening socket Edge accepts on, and the `listen` entry it serves.
struct BoundListener: Sendable {
    /// Stable over reloads: what a new connection looks its listener's setup up by in the serving generation.
    let id: Int
    let entry: ListenConfig
    let channel: any Channel
    let descriptor: CInt
    /// The Unix socket file Edge created, removed when it stops listening; an inherited socket's file is systemd's.
    let ownSocketFile: String?
    /// `http://127.0.0.1:8080`, `https://[::1]:8443` or `http://unix:/path`, as the log says where Edge listens
    /// (kept: a closed channel no longer knows its address).
    let displayName: String

    private init(id: Int, entry: ListenConfig, channel: any Channel, descriptor: CInt, ownSocketFile: String?) {
        self.id = id
        self.entry = entry
        self.channel = channel
        self.descriptor = descriptor
        self.ownSocketFile = ownSocketFile
        let address = channel.localAddress?.displayForm ?? "\(entry.address)"
        displayName = "\(entry.tls == nil ? "http" : "https")://\(address)"
    }

    /// Where the socket comes from.
    enum Source {
        /// Bound here.
        case new
        /// From systemd (`LISTEN_FDS`) or from the binary that started this one (USR2).
        case inherited(InheritedSockets.Socket)
        /// A copy (`dup`) of a socket this process already listens on, for new event loops after a reload.
        case moved(CInt, ownSocketFile: String?)
    }

    /// The listen queue's length, nginx's default.
    static let backlog: Int32 = 511

    /// Listens for `entry` on `group`; new connections are set up with the serving generation's setup for `id`.
    /// `accepting: false` listens without accepting yet. Throws `cannot listen on ADDRESS: why`.
    static func bind(
        _ entry: ListenConfig, id: Int, from source: Source, accepting: Bool, group: MultiThreadedEventLoopGroup,
        registry: ConnectionRegistry, current: NIOLockedValueBox<ServingGeneration>, logger: Logger
    ) async throws -> BoundListener {
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.autoRead, value: accepting)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        AcceptPauseHandler(logger: logger), registry.makeAcceptHandler())
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Each connection keeps its receive buffer between reads, so its first size is memory per idle
            // connection: 1 KiB like nginx's client_header_buffer_size (NIO's default is 2 KiB; 10,000 idle
            // connections measured 51 MiB with it, 41 MiB with this). It grows at once for larger reads.
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1024, maximum: 65536)
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let generation = current.withLockedValue { $0 }
                    // Stopped accepting before its removal took effect; the connection is closed unserved.
                    guard let setup = generation.listeners[id] else { throw ChannelError.ioOnClosedChannel }
                    try ConnectionPipeline.configure(channel, listener: setup, generation: generation)
                }
            }
        if case .tcp = entry.address {
            // TCP_NODELAY lives at the TCP level: at the socket level the same number is SO_DEBUG, which an
            // unprivileged process may not set, and NIO closes a connection whose child option fails.
            bootstrap = bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        let descriptor: CInt
        var ownSocketFile: String?
        switch source {
        case .inherited(let socket):
            logger.info("listening on an inherited socket", metadata: ["socket": "\(socket)"])
            descriptor = socket.descriptor
        case .moved(let existing, let file):
            descriptor = dup(existing)
            ownSocketFile = file
            guard descriptor >= 0 else {
                throw ConfigValueError("cannot listen on \(entry.address): \(String(cString: strerror(errno)))")
            }
        case .new:
            // Bound here rather than by NIO so that Edge knows each listener's descriptor, which a new binary
            // inherits on an upgrade (USR2). An IPv6 listener takes IPv6 only, as nginx's (`ipv6only=on`): Linux
            // would otherwise also take IPv4 on the port, so the usual pair `*:443` and `[::]:443` could not both
            // bind, and IPv4 clients would appear as `::ffff:a.b.c.d`, which no IPv4 range in `real_ip.trusted`
            // matches.
            do {
                descriptor = try ListeningSocket.open(entry.address, backlog: backlog, ipv6Only: entry.address.isIPv6)
            } catch {
                throw ConfigValueError("cannot listen on \(entry.address): \(error)")
            }
            if case .unix(let path) = entry.address { ownSocketFile = path }
        }
        do {
            let channel = try await bootstrap.withBoundSocket(descriptor).get()
            // NIO listens again with its default backlog (128) when it adopts a socket; nginx's 511 is what the
            // listener had (and what edge.socket asks for).
            ListeningSocket.setBacklog(descriptor, backlog)
            return BoundListener(
                id: id, entry: entry, channel: channel, descriptor: descriptor, ownSocketFile: ownSocketFile)
        } catch {
            close(descriptor)
            throw ConfigValueError("cannot listen on \(entry.address): \(error)")
        }
    }

    /// The configured address with the port the kernel chose (the same for Unix sockets).
    var boundAddress: BindAddress? {
        guard case .tcp(let host, _) = entry.address else { return entry.address }
        return channel.localAddress?.port.map { .tcp(host: host, port: $0) }
    }

    /// The same socket serving `entry` (a reload that kept its address).
    func serving(_ entry: ListenConfig) -> BoundListener {
        BoundListener(id: id, entry: entry, channel: channel, descriptor: descriptor, ownSocketFile: ownSocketFile)
    }
}
