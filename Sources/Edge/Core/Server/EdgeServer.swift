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
    /// Per listener (`BoundListener.id`): TLS certificates and what the listener adds.
    var listeners: [Int: ListenerSetup]
}

/// A running Edge: its listeners, event loops and connections.
public final class EdgeServer: Sendable {
    /// What a reload may replace. Reloads, upgrades and stops come one at a time from the signal loop; the lock
    /// is for the readers on other threads.
    private struct Running {
        var listeners: [BoundListener]
        var loops: EventLoops
        var accessLog: AccessLogSink
        /// Loops a reload replaced (`threads`), finishing their connections.
        var retiring: [EventLoops] = []
        var nextListenerID: Int
    }

    private let running: NIOLockedValueBox<Running>
    /// Set once a new binary serves on the sockets: their files are its now.
    private let handedOver = NIOLockedValueBox(false)
    private let registry: ConnectionRegistry
    private let current: NIOLockedValueBox<ServingGeneration>
    /// Outlive reloads, so a HUP that leaves a zone's settings alone leaves its buckets alone.
    private let rateLimitZones: RateLimitZones
    private let logger: Logger
    /// Edge's metrics, made when `admin` is configured (`nil` otherwise: the request path then counts nothing).
    private let metrics: EdgeMetrics?
    /// The admin listener, once started (with accepting: a new binary starts its own when the old one is gone).
    private let admin = NIOLockedValueBox<AdminServer?>(nil)

    private var config: EdgeConfig { current.withLockedValue { $0.config } }

    /// The addresses actually bound, in `listen` order (port 0 in the config becomes the port the kernel chose).
    public var boundAddresses: [SocketAddress] {
        running.withLockedValue { $0.listeners.compactMap(\.channel.localAddress) }
    }

    /// Where Edge listens, in `listen` order: `https://127.0.0.1:8443`.
    public var listenerNames: [String] { running.withLockedValue { $0.listeners.map(\.displayName) } }

    /// The listening sockets, in `listen` order, for a new binary to inherit (USR2).
    public var listeningDescriptors: [CInt] { running.withLockedValue { $0.listeners.map(\.descriptor) } }

    private init(
        running: Running, registry: ConnectionRegistry, current: NIOLockedValueBox<ServingGeneration>,
        rateLimitZones: RateLimitZones, logger: Logger, metrics: EdgeMetrics?
    ) {
        self.metrics = metrics
        self.running = NIOLockedValueBox(running)
        self.registry = registry
        self.current = current
        self.rateLimitZones = rateLimitZones
        self.logger = logger
    }

    /// Per-loop caches and upstream pools for `config`; access-log batches outlive generations.
    private static func makeResources(
        _ config: EdgeConfig, loops: EventLoops, logger: Logger, metrics: EdgeMetrics?
    ) throws
        -> PerLoopResources
    {
        let upstreams = config.upstreams
        let connectTimeout = TimeAmount.milliseconds(config.timeouts.upstreamConnect.milliseconds)
        let revalidate = UInt64(config.fileCache.revalidate.milliseconds) * 1_000_000
        let accessLogs = loops.accessLogs
        return try PerLoopResources(group: loops.group) {
            // Runs on the loop it creates resources for: the pool must never be touched from another thread.
            let loop = MultiThreadedEventLoopGroup.currentEventLoop!
            let loopMetrics = metrics?.loopMetrics(for: loop)
            let pool =
                upstreams.isEmpty
                ? nil
                : UpstreamPool(
                    eventLoop: loop, upstreams: upstreams, connectTimeout: connectTimeout, logger: logger,
                    metrics: metrics, loopMetrics: loopMetrics)
            return LoopResources(
                eventLoop: loop, files: OpenFileCache(revalidateAfterNanoseconds: revalidate, metrics: loopMetrics),
                accessLog: accessLogs.forLoop(loop), upstreams: pool, gzipLevel: config.compression.gzipLevel,
                metrics: loopMetrics)
        }
    }

    /// The setups of `listeners` by id, with their loaded `certificates` (in the same order) and redirects naming
    /// the https listener's real port.
    /// Each listener's name is numbered in `metrics`, for the `listener` label.
    private static func setups(
        for listeners: [(id: Int, entry: ListenConfig, port: Int?)], certificates: [TLSListenerContext?],
        metrics: EdgeMetrics?
    ) -> [Int: ListenerSetup] {
        var made = ListenerSetup.make(
            for: listeners.map(\.entry), certificates: certificates, boundPorts: listeners.map(\.port))
        if let metrics {
            for index in made.indices { made[index].role.metricsID = metrics.labelID(made[index].role.name) }
        }
        return Dictionary(uniqueKeysWithValues: zip(listeners.map(\.id), made))
    }

    /// Opens the access log, starts the event loops and binds every listener; throws naming the address or file
    /// at fault (after releasing whatever was already started).
    /// `accepting: false` binds the listeners without accepting yet (`startAccepting`).
    public static func start(config: EdgeConfig, logger: Logger, accepting: Bool = true) async throws -> EdgeServer {
        let accessLog = try AccessLogSink(destination: config.accessLog, logger: logger)
        let loops = try EventLoops(
            threads: config.threads.resolved(cpuCount: System.coreCount), sink: accessLog,
            format: config.accessLogFormat)
        do {
            // Certificates load once, before binding; the setups are made again once the real ports are known.
            let certificates = try ListenerSetup.loadCertificates(for: config.listen)
            let rateLimitZones = RateLimitZones()
            let metrics = config.admin.map { _ in EdgeMetrics() }
            let generation = ServingGeneration(
                config: config,
                settings: ConnectionSettings(
                    config: config, logger: logger, rateLimitZones: rateLimitZones, metrics: metrics),
                resources: try makeResources(config, loops: loops, logger: logger, metrics: metrics),
                listeners: setups(
                    for: config.listen.enumerated().map { ($0.offset, $0.element, nil) }, certificates: certificates,
                    metrics: metrics))
            if generation.listeners.values.contains(where: { $0.tls?.usesServerCipherOrder == false }) {
                logger.warning(
                    "could not set the server's TLS 1.2 cipher order; clients choose among the configured suites")
            }
            let current = NIOLockedValueBox(generation)
            let realIP = config.realIP
            let registry = ConnectionRegistry(
                maxConnections: config.limits.maxConnections,
                perClient: config.limits.maxConnectionsPerIP > 0
                    ? .init(max: config.limits.maxConnectionsPerIP, isExempt: { realIP.trusts($0) }) : nil,
                logger: logger,
                onRefusal: metrics.map { metrics -> @Sendable (String) -> Void in { metrics.refused(reason: $0) } })
            var listeners: [BoundListener] = []
            // Sockets systemd bound for us (edge.socket): each listen entry takes its own, the rest are bound here.
            var inherited = InheritedSockets.fromEnvironment()
            do {
                for (index, listen) in config.listen.enumerated() {
                    let socket = inherited.take(for: listen.address, name: listen.fdName)
                    if listen.fdName != nil && socket == nil {
                        throw ConfigValueError(
                            "listen[\(index)]: no inherited socket named '\(listen.fdName!)' (LISTEN_FDNAMES)")
                    }
                    listeners.append(
                        try await BoundListener.bind(
                            listen, id: index, from: socket.map { .inherited($0) } ?? .new, accepting: accepting,
                            group: loops.group, registry: registry, current: current, logger: logger))
                }
                if let stray = inherited.unclaimed.first {
                    // A socket systemd listens on that nothing here serves: its clients would wait for ever.
                    throw ConfigValueError("inherited socket \(stray) matches no listen address")
                }
                let withPorts = setups(
                    for: listeners.map { ($0.id, $0.entry, $0.channel.localAddress?.port) }, certificates: certificates,
                    metrics: metrics)
                current.withLockedValue { $0.listeners = withPorts }
            } catch {
                for listener in listeners { try? await listener.channel.close() }
                throw error
            }
            let server = EdgeServer(
                running: Running(
                    listeners: listeners, loops: loops, accessLog: accessLog, nextListenerID: listeners.count),
                registry: registry, current: current, rateLimitZones: rateLimitZones, logger: logger,
                metrics: metrics)
            if accepting {
                do {
                    try await server.startAdmin()
                } catch {
                    for listener in listeners { try? await listener.channel.close() }
                    throw error
                }
            }
            return server
        } catch {
            await loops.shutdown()
            throw error
        }
    }

    /// Serves new connections with `newConfig`; connections already open finish with the configuration they started
    /// with. `listen` entries are added and removed (a removed listener stops accepting; its connections finish),
    /// a changed `threads` starts new event loops (the old ones finish their connections, within
    /// `timeouts.shutdown`, and stop), a changed `access_log` takes every line from now on. Anything that fails (a
    /// certificate, an address that cannot be bound, a log file) throws before any of it takes effect: the running
    /// configuration stays whole. `limits.max_connections` and `limits.max_connections_per_ip` keep their running
    /// values and are logged.
    public func reload(_ newConfig: EdgeConfig) async throws {
        let runningConfig = config
        let state = running.withLockedValue { $0 }
        warnAboutRestartOnlyChanges(from: runningConfig, to: newConfig)

        // 1. Everything that can fail, with nothing running changed yet.
        let logChanged =
            newConfig.accessLog != runningConfig.accessLog || newConfig.accessLogFormat != runningConfig.accessLogFormat
        let accessLog =
            logChanged ? try AccessLogSink(destination: newConfig.accessLog, logger: logger) : state.accessLog
        let threads = newConfig.threads.resolved(cpuCount: System.coreCount)
        let loopsChanged = threads != state.loops.loops.count
        let loops =
            loopsChanged
            ? try EventLoops(threads: threads, sink: accessLog, format: newConfig.accessLogFormat) : state.loops
        let plan = ListenerReloadPlan(
            running: state.listeners.map { .init(id: $0.id, entry: $0.entry, bound: $0.boundAddress) },
            wanted: newConfig.listen,
            nextID: state.nextListenerID)
        var bound: [BoundListener] = []
        var listeners: [BoundListener] = []
        let certificates: [TLSListenerContext?]
        let generation: ServingGeneration
        do {
            // Certificates first: a broken one refuses the reload before any socket is bound.
            certificates = try ListenerSetup.loadCertificates(for: newConfig.listen)
            for wanted in plan.entries {
                let kept = wanted.keeps.map { state.listeners[$0] }
                if let kept, !loopsChanged {
                    listeners.append(kept.serving(wanted.entry))
                    continue
                }
                let source: BoundListener.Source =
                    kept.map { .moved($0.descriptor, ownSocketFile: $0.ownSocketFile) } ?? .new
                let listener = try await BoundListener.bind(
                    wanted.entry, id: wanted.id, from: source, accepting: false, group: loops.group,
                    registry: registry, current: current, logger: logger)
                bound.append(listener)
                listeners.append(listener)
            }
            generation = ServingGeneration(
                config: newConfig,
                settings: ConnectionSettings(
                    config: newConfig, logger: logger, rateLimitZones: rateLimitZones, metrics: metrics),
                resources: try Self.makeResources(newConfig, loops: loops, logger: logger, metrics: metrics),
                // `listeners` follows the new `listen` order, as `certificates` does.
                listeners: Self.setups(
                    for: listeners.map { ($0.id, $0.entry, $0.channel.localAddress?.port) }, certificates: certificates,
                    metrics: metrics)
            )
        } catch {
            for listener in bound { try? await listener.channel.close() }
            if loopsChanged { await loops.shutdown() }
            throw error
        }

        // 2. The switch. Listeners that go (all of them, when new loops take over) stop accepting first, so that no
        // connection is set up for a listener the new generation does not know.
        let keptChannels = Set(listeners.map { ObjectIdentifier($0.channel) })
        let leaving = state.listeners.filter { !keptChannels.contains(ObjectIdentifier($0.channel)) }
        for listener in leaving { try? await listener.channel.setOption(.autoRead, value: false).get() }
        await state.loops.settle()
        current.withLockedValue { $0 = generation }
        for listener in bound { try? await listener.channel.setOption(.autoRead, value: true).get() }
        let stillListening = Set(listeners.map(\.id))
        for listener in leaving {
            try? await listener.channel.close()
            // Moved to new loops, or gone.
            guard !stillListening.contains(listener.id) else { continue }
            if let file = listener.ownSocketFile { unlink(file) }
            logger.info("HUP: stopped listening on \(listener.displayName)")
        }
        let previous = Set(state.listeners.map(\.id))
        for listener in listeners where !previous.contains(listener.id) {
            logger.info("HUP: listening on \(listener.displayName)")
        }
        if logChanged {
            let format = newConfig.accessLogFormat
            for each in [state.loops, loops] + state.retiring {
                await each.accessLogs.forEach { $0.switchTo(accessLog, format: format) }
            }
        }
        running.withLockedValue {
            $0.listeners = listeners
            $0.accessLog = accessLog
            $0.nextListenerID = plan.nextID
            if loopsChanged {
                $0.retiring.append(state.loops)
                $0.loops = loops
            }
        }
        if loopsChanged {
            logger.info("HUP: \(threads) event-loop threads serve new connections; the old ones finish theirs")
            let timeout = runningConfig.timeouts.shutdown.duration
            Task { await self.retire(state.loops, within: timeout) }
        }
    }

    private func warnAboutRestartOnlyChanges(from running: EdgeConfig, to new: EdgeConfig) {
        var unchanged: [String] = []
        if new.limits.maxConnections != running.limits.maxConnections {
            unchanged.append("limits.max_connections")
        }
        if new.limits.maxConnectionsPerIP != running.limits.maxConnectionsPerIP
            || (running.limits.maxConnectionsPerIP > 0 && new.realIP.trusted != running.realIP.trusted)
        {
            unchanged.append("limits.max_connections_per_ip")
        }
        if new.admin != running.admin { unchanged.append("admin") }
        guard !unchanged.isEmpty else { return }
        logger.warning(
            "HUP: these settings need a restart and keep their running values",
            metadata: ["keys": "\(unchanged.joined(separator: ", "))"])
    }

    /// Old event loops after `threads` changed: their connections finish their requests and close (within
    /// `timeout`, then they are closed), and the threads stop.
    private func retire(_ loops: EventLoops, within timeout: Duration) async {
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.registry.drain(on: loops.loops)
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !finished { registry.closeAll(on: loops.loops) }
        await metrics?.retire(loops.loops)
        await loops.shutdown()
        running.withLockedValue { $0.retiring.removeAll { $0 === loops } }
    }

    /// Graceful stop: stop accepting, let in-flight responses finish (idle keep-alive connections close at once),
    /// and give up after `timeouts.shutdown`, closing whatever is left.
    public func stopGracefully() async {
        await stopAdmin()
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
        await stopAdmin()
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
        await stopAdmin()
        await closeListeners()
    }

    /// Starts accepting on listeners bound with `accepting: false` (a new binary, once the old one has stopped).
    public func startAccepting() async {
        for listener in running.withLockedValue({ $0.listeners }) {
            try? await listener.channel.setOption(.autoRead, value: true).get()
        }
        do {
            try await startAdmin()
        } catch {
            logger.error("cannot start the admin listener; serving without it", metadata: ["error": "\(error)"])
        }
    }

    /// Counts a HUP in `edge_config_reloads_total`: applied, or refused (a bad file, or a reload that failed).
    public func countReload(applied: Bool) {
        metrics?.reloaded(applied: applied)
    }

    /// Where the admin listener listens (its real port when the configuration said 0); `nil` when it is off.
    public var adminAddress: BindAddress? { admin.withLockedValue { $0?.address } }

    /// Starts the admin listener (`admin`), if configured; throws naming its address when it cannot be bound.
    private func startAdmin() async throws {
        guard let metrics, let address = config.admin?.listen else { return }
        let current = self.current
        let pages = EdgeAdminPages(metrics: metrics) {
            current.withLockedValue { $0.config.upstreams.mapValues { $0.servers.map(\.description) } }
        }
        do {
            let server = try await AdminServer(address: address, pages: pages, logger: logger)
            admin.withLockedValue { $0 = server }
        } catch {
            throw ConfigValueError("admin.listen \(address): \(error)")
        }
    }

    private func stopAdmin() async {
        guard let server = admin.withLockedValue({ $0.take() }) else { return }
        await server.stop()
    }

    /// Whether every event loop still runs its tasks within `timeout` (see `EventLoopCheck`).
    public func eventLoopsAnswer(within timeout: Duration) async -> Bool {
        await EventLoopCheck.allAnswer(running.withLockedValue { $0.loops.loops }, within: timeout)
    }

    /// Reopens the access log file (logrotate's USR1).
    public func reopenLogs() {
        do {
            try running.withLockedValue { $0.accessLog }.reopen()
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
        let (listeners, loops) = running.withLockedValue { ($0.listeners, $0.loops) }
        for listener in listeners {
            try? await listener.channel.setOption(.autoRead, value: false).get()
        }
        await loops.settle()
        for listener in listeners {
            try? await listener.channel.close()
        }
        guard !handedOver.withLockedValue({ $0 }) else { return }
        for case let path? in listeners.map(\.ownSocketFile) { unlink(path) }
    }

    private func finish() async {
        let (loops, retiring) = running.withLockedValue { ($0.loops, $0.retiring) }
        for each in retiring + [loops] { await each.shutdown() }
    }
}
