import Logging
import NIOCore
import NIOPosix
import Shared

/// One server of an upstream group.
struct UpstreamServer: Hashable, Sendable, CustomStringConvertible {
    var upstream: String
    var address: BindAddress
    var description: String { address.description }
}

/// A server as one event loop's pool tracks it: its idle keep-alive connections, the requests in flight to it,
/// and until when it is skipped for refusing connections. A class, so the hot path updates it in place instead of
/// hashing server names into dictionaries.
final class PooledServer {
    let server: UpstreamServer
    /// `server` as logs name it, made once: every proxied request's log line has it.
    let name: String
    /// Idle connections kept at most (`upstreams.NAME.keepalive`).
    let keepalive: Int
    fileprivate(set) var active = 0
    fileprivate var downUntil = NIODeadline.uptimeNanoseconds(0)
    fileprivate var idle: [UpstreamConnection] = []
    /// The server's number in Edge's metrics (0 when they are off).
    let metricsID: Int

    init(_ server: UpstreamServer, keepalive: Int, metricsID: Int = 0) {
        self.server = server
        self.name = server.description
        self.keepalive = keepalive
        self.metricsID = metricsID
    }
}

/// Keep-alive connections to upstream servers for one event loop (so leasing one never hops threads), with
/// least-connections choice among a group's servers and passive health: a server that refuses connections is
/// skipped for a while.
final class UpstreamPool {
    private let groups: [String: [PooledServer]]
    private let eventLoop: any EventLoop
    private let connectTimeout: TimeAmount
    private let logger: Logger
    /// Edge's metrics, when the admin listener is on: connect times, failures, skips; and this loop's counts, for
    /// response times.
    let metrics: EdgeMetrics?
    let loopMetrics: LoopMetrics?
    /// How long a server that refused a connection is skipped.
    static let failTimeout = TimeAmount.seconds(10)

    init(
        eventLoop: any EventLoop, upstreams: [String: UpstreamConfig], connectTimeout: TimeAmount, logger: Logger,
        metrics: EdgeMetrics? = nil, loopMetrics: LoopMetrics? = nil
    ) {
        self.metrics = metrics
        self.loopMetrics = loopMetrics
        self.groups = Dictionary(
            uniqueKeysWithValues: upstreams.map { name, config in
                (
                    name,
                    config.servers.map {
                        PooledServer(
                            UpstreamServer(upstream: name, address: $0), keepalive: config.keepalive,
                            metricsID: metrics?.labelID(UpstreamServer(upstream: name, address: $0).description) ?? 0)
                    }
                )
            })
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    /// The server of `upstream` with the fewest requests in flight, preferring healthy ones; `nil` when every
    /// server was tried already.
    func choose(_ upstream: String, excluding tried: [PooledServer] = []) -> PooledServer? {
        guard let servers = groups[upstream] else { return nil }
        let now = eventLoop.now
        var best: PooledServer?
        var bestIsHealthy = false
        for candidate in servers where !tried.contains(where: { $0 === candidate }) {
            let healthy = candidate.downUntil <= now
            guard let current = best else {
                (best, bestIsHealthy) = (candidate, healthy)
                continue
            }
            if (healthy && !bestIsHealthy) || (healthy == bestIsHealthy && candidate.active < current.active) {
                (best, bestIsHealthy) = (candidate, healthy)
            }
        }
        if let metrics, bestIsHealthy {
            for skipped in servers where skipped.downUntil > now {
                metrics.upstreamEvent(.skippedAsDown, server: skipped.server.description)
            }
        }
        return best
    }

    /// An idle pooled connection to `server` for a new request, counted as active; `nil` when there is none and
    /// a new one must be connected. A pooled connection may have been closed by the upstream meanwhile.
    /// The servers this loop skips for now, having failed to connect to them (`upstream address`).
    func serversDown() -> [String] {
        let now = eventLoop.now
        return groups.values.joined().filter { $0.downUntil > now }.map { "\($0.server.upstream) \($0.server)" }
    }

    func takeIdle(_ server: PooledServer) -> UpstreamConnection? {
        while let connection = server.idle.popLast() {
            connection.idleIn = nil
            if !connection.isClosed {
                server.active += 1
                return connection
            }
        }
        return nil
    }

    /// Connects a new connection to `server`, counted as active from now; `completion` runs on this loop.
    func connect(_ server: PooledServer, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        server.active += 1
        let started = eventLoop.now
        // The bootstrap's group is this one loop, so the channel is initialised on it, where `server` lives.
        let pooled = NIOLoopBound(server, eventLoop: eventLoop)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UpstreamConnection(channel: channel, pooled: pooled.value))
                }
            }
        let connected: EventLoopFuture<any Channel>
        switch server.server.address {
        case .unix(let path): connected = bootstrap.connect(unixDomainSocketPath: path)
        case .tcp(let host, let port): connected = bootstrap.connect(host: host, port: port)
        }
        connected.assumeIsolated().whenComplete { [metrics, eventLoop] result in
            if let metrics, case .success = result {
                metrics.upstreamConnected(
                    server: server.name, nanoseconds: (eventLoop.now - started).nanoseconds)
            }
            completion(
                result.flatMap { channel in
                    Result { try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self) }
                })
        }
    }

    /// Gives a connection back: kept for reuse if it may be, closed otherwise.
    func release(_ connection: UpstreamConnection, reusable: Bool) {
        let server = connection.pooled
        server.active -= 1
        connection.listener = nil
        connection.pauseReads(false)
        guard reusable, connection.mayBeReused, server.idle.count < server.keepalive else {
            connection.channel.close(promise: nil)
            return
        }
        connection.idleIn = self
        server.idle.append(connection)
    }

    /// An idle connection the upstream closed.
    func idleConnectionClosed(_ connection: UpstreamConnection) {
        connection.pooled.idle.removeAll { $0 === connection }
    }

    /// A leased connection that leaves the pool's care for good (it became a tunnel).
    func detach(_ connection: UpstreamConnection) {
        connection.pooled.active -= 1
    }

    /// A connection attempt that produced no connection.
    func connectFailed(_ server: PooledServer, reason: String) {
        server.active -= 1
        metrics?.upstreamEvent(
            .failure(reason.lowercased().contains("timeout") ? "timeout" : "refused"), server: server.name
        )
        metrics?.upstreamDown(server.name, for: Self.failTimeout)
        if server.downUntil <= eventLoop.now {
            logger.warning(
                "cannot connect to upstream server; skipping it for a while",
                metadata: [
                    "upstream": "\(server.server.upstream)", "server": "\(server.server)", "cause": "\(reason)",
                    "skip": "\(Self.failTimeout.nanoseconds / 1_000_000_000)s",
                ])
        }
        server.downUntil = eventLoop.now + Self.failTimeout
    }

    /// A connection attempt whose exchange had ended meanwhile.
    func abandon(_ server: PooledServer) {
        server.active -= 1
    }
}
