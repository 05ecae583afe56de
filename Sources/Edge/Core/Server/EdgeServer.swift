import Logging
import NIOCore
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A running Edge: its listeners, event loops and connections.
public final class EdgeServer: Sendable {
    /// The addresses actually bound (port 0 in the config becomes the port the kernel chose).
    public let boundAddresses: [SocketAddress]
    private let listeners: [any Channel]
    private let group: MultiThreadedEventLoopGroup
    private let registry: ConnectionRegistry
    private let resources: PerLoopResources
    private let accessLog: AccessLogSink
    private let config: EdgeConfig
    private let logger: Logger

    private init(
        boundAddresses: [SocketAddress], listeners: [any Channel], group: MultiThreadedEventLoopGroup,
        registry: ConnectionRegistry, resources: PerLoopResources, accessLog: AccessLogSink, config: EdgeConfig,
        logger: Logger
    ) {
        self.boundAddresses = boundAddresses
        self.listeners = listeners
        self.group = group
        self.registry = registry
        self.resources = resources
        self.accessLog = accessLog
        self.config = config
        self.logger = logger
    }

    /// Opens the access log, starts the event loops and binds every listener; throws naming the address or file
    /// at fault (after releasing whatever was already started).
    public static func start(config: EdgeConfig, logger: Logger) async throws -> EdgeServer {
        let accessLog = try AccessLogSink(destination: config.accessLog)
        let threads = config.threads.resolved(cpuCount: System.coreCount)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            let format = config.accessLogFormat
            let upstreams = config.upstreams
            let connectTimeout = TimeAmount.milliseconds(config.timeouts.upstreamConnect.milliseconds)
            let resources = try PerLoopResources(group: group) {
                // Runs on the loop it creates resources for: the pool must never be touched from another thread.
                let loop = MultiThreadedEventLoopGroup.currentEventLoop!
                let pool = upstreams.isEmpty
                    ? nil : UpstreamPool(eventLoop: loop, upstreams: upstreams, connectTimeout: connectTimeout, logger: logger)
                return LoopResources(files: OpenFileCache(), accessLog: AccessLogBuffer(sink: accessLog, format: format), upstreams: pool)
            }
            resources.every(.seconds(1)) { $0.accessLog.flush() }
            let registry = ConnectionRegistry(maxConnections: config.limits.maxConnections, logger: logger)
            let settings = ConnectionSettings(config: config, logger: logger)
            var listeners: [any Channel] = []
            do {
                for listen in config.listen {
                    listeners.append(try await bind(listen, group: group, registry: registry, resources: resources, settings: settings))
                }
            } catch {
                for listener in listeners { try? await listener.close() }
                throw error
            }
            return EdgeServer(
                boundAddresses: listeners.compactMap(\.localAddress), listeners: listeners, group: group,
                registry: registry, resources: resources, accessLog: accessLog, config: config, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func bind(
        _ listen: ListenConfig, group: MultiThreadedEventLoopGroup, registry: ConnectionRegistry,
        resources: PerLoopResources, settings: ConnectionSettings
    ) async throws -> any Channel {
        let isTCP: Bool
        if case .tcp = listen.address { isTCP = true } else { isTCP = false }
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 511)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(registry.makeAcceptHandler())
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let loopResources = resources.forLoop(channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTP1ConnectionHandler(settings: settings, resources: loopResources))
                }
            }
        if isTCP {
            bootstrap = bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        }
        do {
            switch listen.address {
            case .tcp(let host, let port):
                return try await bootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                return try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
            }
        } catch {
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

    /// Reopens the access log file (logrotate's USR1).
    public func reopenLogs() {
        do {
            try accessLog.reopen()
            logger.info("reopened access log")
        } catch {
            logger.error("cannot reopen access log; still writing to the old file", metadata: ["error": "\(error)"])
        }
    }

    private func closeListeners() async {
        for listener in listeners {
            try? await listener.close()
        }
        for listen in config.listen {
            if case .unix(let path) = listen.address { unlink(path) }
        }
    }

    private func finish() async {
        await resources.forEach { $0.accessLog.flush() }
        try? await group.shutdownGracefully()
    }
}
