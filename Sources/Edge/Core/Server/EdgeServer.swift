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

/// What new connections are served with. A reload (HUP) replaces it; connections keep the one they started with.
struct ServingGeneration: Sendable {
    var config: EdgeConfig
    var settings: ConnectionSettings
    var resources: PerLoopResources
    /// Per `listen` entry, in order: TLS certificates and what the listener adds.
    var listeners: [ListenerSetup]
}

/// A running Edge: its listeners, event loops and connections.
public final class EdgeServer: Sendable {
    /// The addresses actually bound (port 0 in the config becomes the port the kernel chose).
    public let boundAddresses: [SocketAddress]
    private let listeners: [any Channel]
    /// Unix socket files Edge bound itself, removed when it stops; an inherited socket's file is systemd's.
    private let ownSocketFiles: [String]
    /// The listening sockets, in `listen` order, for a new binary to inherit (USR2).
    public let listeningDescriptors: [CInt]
    /// Set once a new binary serves on the sockets: their files are its now.
    private let handedOver = NIOLockedValueBox(false)
    private let group: MultiThreadedEventLoopGroup
    private let registry: ConnectionRegistry
    private let accessLogs: PerLoop<AccessLogBuffer>
    private let accessLog: AccessLogSink
    private let current: NIOLockedValueBox<ServingGeneration>
    /// Outlive reloads, so a HUP that leaves a zone's settings alone leaves its buckets alone.
    private let rateLimitZones: RateLimitZones
    private let logger: Logger

    private var config: EdgeConfig { current.withLockedValue { $0.config } }

    private init(
        boundAddresses: [SocketAddress], listeners: [any Channel], listeningDescriptors: [CInt],
        ownSocketFiles: [String],
        group: MultiThreadedEventLoopGroup,
        registry: ConnectionRegistry, accessLogs: PerLoop<AccessLogBuffer>, accessLog: AccessLogSink,
        current: NIOLockedValueBox<ServingGeneration>, rateLimitZones: RateLimitZones, logger: Logger
    ) {
        self.boundAddresses = boundAddresses
        self.listeners = listeners
        self.ownSocketFiles = ownSocketFiles
        self.listeningDescriptors = listeningDescriptors
        self.group = group
        self.registry = registry
        self.accessLogs = accessLogs
        self.accessLog = accessLog
        self.current = current
        self.rateLimitZones = rateLimitZones
        self.logger = logger
    }

    /// Per-loop caches and upstream pools for `config`; access-log batches outlive generations.
    private static func makeResources(
        _ config: EdgeConfig, group: MultiThreadedEventLoopGroup, accessLogs: PerLoop<AccessLogBuffer>, logger: Logger
    ) throws -> PerLoopResources {
        let upstreams = config.upstreams
        let connectTimeout = TimeAmount.milliseconds(config.timeouts.upstreamConnect.milliseconds)
        let revalidate = UInt64(config.fileCache.revalidate.milliseconds) * 1_000_000
        return try PerLoopResources(group: group) {
            // Runs on the loop it creates resources for: the pool must never be touched from another thread.
            let loop = MultiThreadedEventLoopGroup.currentEventLoop!
            let pool =
                upstreams.isEmpty
                ? nil
                : UpstreamPool(eventLoop: loop, upstreams: upstreams, connectTimeout: connectTimeout, logger: logger)
            return LoopResources(
                eventLoop: loop, files: OpenFileCache(revalidateAfterNanoseconds: revalidate),
                accessLog: accessLogs.forLoop(loop), upstreams: pool, gzipLevel: config.compression.gzipLevel)
        }
    }

    /// Opens the access log, starts the event loops and binds every listener; throws naming the address or file
    /// at fault (after releasing whatever was already started).
    /// `accepting: false` binds the listeners without accepting yet (`startAccepting`).
    public static func start(config: EdgeConfig, logger: Logger, accepting: Bool = true) async throws -> EdgeServer {
        let accessLog = try AccessLogSink(destination: config.accessLog, logger: logger)
        let threads = config.threads.resolved(cpuCount: System.coreCount)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            let format = config.accessLogFormat
            let accessLogs = try PerLoop(group: group) { AccessLogBuffer(sink: accessLog, format: format) }
            accessLogs.every(.seconds(1)) { $0.flush() }
            // Certificates load once; the setups are made again after binding only to learn the real ports.
            let certificates = try ListenerSetup.loadCertificates(for: config.listen)
            let rateLimitZones = RateLimitZones()
            let generation = ServingGeneration(
                config: config,
                settings: ConnectionSettings(config: config, logger: logger, rateLimitZones: rateLimitZones),
                resources: try makeResources(config, group: group, accessLogs: accessLogs, logger: logger),
                listeners: ListenerSetup.make(for: config.listen, certificates: certificates, boundPorts: []))
            if generation.listeners.contains(where: { $0.tls?.usesServerCipherOrder == false }) {
                logger.warning(
                    "could not set the server's TLS 1.2 cipher order; clients choose among the configured suites")
            }
            let current = NIOLockedValueBox(generation)
            let realIP = config.realIP
            let registry = ConnectionRegistry(
                maxConnections: config.limits.maxConnections,
                perClient: config.limits.maxConnectionsPerIP > 0
                    ? .init(max: config.limits.maxConnectionsPerIP, isExempt: { realIP.trusts($0) }) : nil,
                logger: logger)
            var listeners: [any Channel] = []
            var ownSocketFiles: [String] = []
            var descriptors: [CInt] = []
            // Sockets systemd bound for us (edge.socket): each listen entry takes its own, the rest are bound here.
            var inherited = InheritedSockets.fromEnvironment()
            do {
                for (index, listen) in config.listen.enumerated() {
                    let socket = inherited.take(for: listen.address, name: listen.fdName)
                    if listen.fdName != nil && socket == nil {
                        throw ConfigValueError(
                            "listen[\(index)]: no inherited socket named '\(listen.fdName!)' (LISTEN_FDNAMES)")
                    }
                    let (listener, descriptor) = try await bind(
                        listen, index: index, inherited: socket, accepting: accepting, group: group,
                        registry: registry, current: current, logger: logger)
                    listeners.append(listener)
                    descriptors.append(descriptor)
                    if socket == nil, case .unix(let path) = listen.address { ownSocketFiles.append(path) }
                }
                if let stray = inherited.unclaimed.first {
                    // A socket systemd listens on that nothing here serves: its clients would wait for ever.
                    throw ConfigValueError("inherited socket \(stray) matches no listen address")
                }
                // Redirects name the https listener's real port, known only now when the config said port 0.
                let redirectsAware = ListenerSetup.make(
                    for: config.listen, certificates: certificates, boundPorts: listeners.map { $0.localAddress?.port })
                current.withLockedValue { $0.listeners = redirectsAware }
            } catch {
                for listener in listeners { try? await listener.close() }
                throw error
            }
            return EdgeServer(
                boundAddresses: listeners.compactMap(\.localAddress), listeners: listeners,
                listeningDescriptors: descriptors, ownSocketFiles: ownSocketFiles, group: group,
                registry: registry, accessLogs: accessLogs, accessLog: accessLog, current: current,
                rateLimitZones: rateLimitZones, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Serves new connections with `newConfig` (routes, limits, timeouts, upstreams, real_ip); connections already
    /// open finish with the configuration they started with. Settings that need new sockets, threads or files
    /// (`listen`, `threads`, `access_log`, `limits.max_connections`, `limits.max_connections_per_ip`) keep their
    /// running values and are logged.
    public func reload(_ newConfig: EdgeConfig) throws {
        let running = config
        var unchanged: [String] = []
        if newConfig.listen.map(\.address) != running.listen.map(\.address) { unchanged.append("listen addresses") }
        if newConfig.threads != running.threads { unchanged.append("threads") }
        if newConfig.accessLog != running.accessLog || newConfig.accessLogFormat != running.accessLogFormat {
            unchanged.append("access_log")
        }
        if newConfig.limits.maxConnections != running.limits.maxConnections {
            unchanged.append("limits.max_connections")
        }
        if newConfig.limits.maxConnectionsPerIP != running.limits.maxConnectionsPerIP
            || (running.limits.maxConnectionsPerIP > 0 && newConfig.realIP.trusted != running.realIP.trusted)
        {
            unchanged.append("limits.max_connections_per_ip")
        }
        if !unchanged.isEmpty {
            logger.warning(
                "HUP: these settings need a restart and keep their running values",
                metadata: ["keys": "\(unchanged.joined(separator: ", "))"])
        }
        // The sockets stay; what each one serves (certificates, protocols, HSTS, redirect) follows the new entry for
        // the same address, so certificates renewed on disk are picked up by HUP.
        let served = running.listen.map { runningEntry in
            newConfig.listen.first { $0.address == runningEntry.address } ?? runningEntry
        }
        let listenerSetups = ListenerSetup.make(
            for: served, certificates: try ListenerSetup.loadCertificates(for: served),
            boundPorts: boundAddresses.map(\.port))
        var kept = newConfig
        kept.listen = served
        let generation = ServingGeneration(
            config: kept,
            settings: ConnectionSettings(config: newConfig, logger: logger, rateLimitZones: rateLimitZones),
            resources: try Self.makeResources(newConfig, group: group, accessLogs: accessLogs, logger: logger),
            listeners: listenerSetups)
        current.withLockedValue { $0 = generation }
    }

    /// The listen queue's length, nginx's default.
    private static let backlog: Int32 = 511

    private static func bind(
        _ listen: ListenConfig, index: Int, inherited: InheritedSockets.Socket?, accepting: Bool,
        group: MultiThreadedEventLoopGroup,
        registry: ConnectionRegistry,
        current: NIOLockedValueBox<ServingGeneration>, logger: Logger
    ) async throws -> (any Channel, CInt) {
        let isTCP: Bool
        if case .tcp = listen.address { isTCP = true } else { isTCP = false }
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Self.backlog)
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
                    try ConnectionPipeline.configure(
                        channel, listener: generation.listeners[index], generation: generation)
                }
            }
        if isTCP {
            // TCP_NODELAY lives at the TCP level: at the socket level the same number is SO_DEBUG, which an
            // unprivileged process may not set, and NIO closes a connection whose child option fails.
            bootstrap = bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        let descriptor: CInt
        if let inherited {
            logger.info("listening on an inherited socket", metadata: ["socket": "\(inherited)"])
            descriptor = inherited.descriptor
        } else {
            // Bound here rather than by NIO so that Edge knows each listener's descriptor, which a new binary
            // inherits on an upgrade (USR2). An IPv6 listener takes IPv6 only, as nginx's (`ipv6only=on`): Linux
            // would otherwise also take IPv4 on the port, so the usual pair `*:443` and `[::]:443` could not both
            // bind, and IPv4 clients would appear as `::ffff:a.b.c.d`, which no IPv4 range in `real_ip.trusted`
            // matches.
            do {
                descriptor = try ListeningSocket.open(
                    listen.address, backlog: Self.backlog, ipv6Only: listen.address.isIPv6)
            } catch {
                throw ConfigValueError("cannot listen on \(listen.address): \(error)")
            }
        }
        do {
            let channel = try await bootstrap.withBoundSocket(descriptor).get()
            // NIO listens again with its default backlog (128) when it adopts a socket; nginx's 511 is what the
            // listener had (and what edge.socket asks for).
            ListeningSocket.setBacklog(descriptor, Self.backlog)
            return (channel, descriptor)
        } catch {
            close(descriptor)
            throw ConfigValueError("cannot listen on \(listen.address): \(error)")
        }
    }

    /// Graceful stop: stop accepting, let in-flight responses finish (idle keep-alive connections close at once),
    /// and give up after `timeouts.shutdown`, closing whatever is left.
    public func stopGracefully() async {
        await closeListeners()
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.registry.drain()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: self.config.timeouts.shutdown.duration)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !drained {
            logger.warning(
                "shutdown timeout reached; closing remaining connections",
                metadata: ["open": "\(registry.count)", "timeout": "\(config.timeouts.shutdown)"])
            registry.closeAll()
        }
        await finish()
    }

    /// Fast stop: close everything now.
    public func stopNow() async {
        await closeListeners()
        registry.closeAll()
        await finish()
    }

    /// systemd's `STATUS=` (what `systemctl status` shows): open connections, and the upstream servers some event
    /// loop skips for now, having failed to connect to them.
    public func statusLine() async -> String {
        let resources = current.withLockedValue { $0.resources }
        let down = NIOLockedValueBox<Set<String>>([])
        await resources.forEach { loop in
            let servers = loop.upstreams?.serversDown() ?? []
            down.withLockedValue { $0.formUnion(servers) }
        }
        var line = "serving: \(registry.count) connections"
        let serverCount = config.upstreams.values.reduce(0) { $0 + $1.servers.count }
        guard serverCount > 0 else { return line }
        let downServers = down.withLockedValue { $0.sorted() }
        line +=
            downServers.isEmpty
            ? "; all \(serverCount) upstream servers up"
            : "; upstream servers down: \(downServers.joined(separator: ", "))"
        return line
    }

    /// A new binary takes over the listening sockets (USR2): this process stops accepting on them, and leaves
    /// their files to it when it stops.
    public func handOverSockets() async {
        handedOver.withLockedValue { $0 = true }
        await closeListeners()
    }

    /// Starts accepting on listeners bound with `accepting: false` (a new binary, once the old one has stopped).
    public func startAccepting() async {
        for listener in listeners {
            try? await listener.setOption(.autoRead, value: true).get()
        }
    }

    /// Whether every event loop still runs its tasks within `timeout` (see `EventLoopCheck`).
    public func eventLoopsAnswer(within timeout: Duration) async -> Bool {
        await EventLoopCheck.allAnswer(Array(group.makeIterator()), within: timeout)
    }

    /// Reopens the access log file (logrotate's USR1).
    public func reopenLogs() {
        do {
            try accessLog.reopen()
            logger.info("reopened access log")
        } catch {
            logger.error("cannot reopen access log; still writing to the old file", metadata: ["error": "\(error)"])
        }
    }

    /// Stops accepting, then closes the listening channels. In between, every event loop runs twice: NIO's server
    /// bootstrap sets up an accepted connection on its own loop and then hands it back to the listener's, and it
    /// closes (with a reset, its request unread) a connection whose listener closed meanwhile. Measured on USR2:
    /// two or three such resets per handover under four connecting clients, none with the pause.
    private func closeListeners() async {
        for listener in listeners {
            try? await listener.setOption(.autoRead, value: false).get()
        }
        for _ in 0..<2 {
            for loop in group.makeIterator() { try? await loop.submit {}.get() }
        }
        for listener in listeners {
            try? await listener.close()
        }
        guard !handedOver.withLockedValue({ $0 }) else { return }
        for path in ownSocketFiles { unlink(path) }
    }

    private func finish() async {
        await accessLogs.forEach { $0.flush() }
        try? await group.shutdownGracefully()
    }
}
