import Logging
import NIOCore
import NIOPosix
import Shared

/// One server of an upstream group, as the pool tracks it.
struct UpstreamServer: Hashable, Sendable, CustomStringConvertible {
    var upstream: String
    var address: BindAddress
    var description: String { address.description }
}

/// Keep-alive connections to upstream servers for one event loop (so leasing one never hops threads), with
/// least-connections choice among a group's servers and passive health: a server that refuses connections is
/// skipped for a while.
final class UpstreamPool {
    private var idle: [UpstreamServer: [UpstreamConnection]] = [:]
    private var active: [UpstreamServer: Int] = [:]
    private var downUntil: [UpstreamServer: NIODeadline] = [:]
    private let eventLoop: any EventLoop
    private let upstreams: [String: UpstreamConfig]
    private let connectTimeout: TimeAmount
    private let logger: Logger
    /// How long a server that refused a connection is skipped.
    static let failTimeout = TimeAmount.seconds(10)

    init(eventLoop: any EventLoop, upstreams: [String: UpstreamConfig], connectTimeout: TimeAmount, logger: Logger) {
        self.eventLoop = eventLoop
        self.upstreams = upstreams
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    /// The server of `upstream` with the fewest active requests, preferring healthy ones.
    func choose(_ upstream: String, excluding excluded: Set<UpstreamServer> = []) -> UpstreamServer? {
        guard let config = upstreams[upstream] else { return nil }
        let now = eventLoop.now
        let servers = config.servers.map { UpstreamServer(upstream: upstream, address: $0) }.filter { !excluded.contains($0) }
        let healthy = servers.filter { (downUntil[$0] ?? .uptimeNanoseconds(0)) <= now }
        return (healthy.isEmpty ? servers : healthy).min { (active[$0] ?? 0) < (active[$1] ?? 0) }
    }

    /// Calls `completion` (on this loop) with an idle pooled connection to `server`, or a new one; `reused` tells
    /// whether it had served before (and so may have been closed by the upstream meanwhile).
    func lease(
        _ server: UpstreamServer, _ completion: @escaping (Result<(connection: UpstreamConnection, reused: Bool), any Error>) -> Void
    ) {
        active[server, default: 0] += 1
        while var list = idle[server], let connection = list.popLast() {
            idle[server] = list
            connection.idleIn = nil
            if !connection.isClosed {
                completion(.success((connection, true)))
                return
            }
        }
        connect(server) { completion($0.map { ($0, false) }) }
    }

    /// Gives a connection back: kept for reuse if it may be, closed otherwise.
    func release(_ connection: UpstreamConnection, reusable: Bool) {
        let server = connection.server
        active[server, default: 1] -= 1
        connection.listener = nil
        connection.pauseReads(false)
        let limit = upstreams[server.upstream]?.keepalive ?? 0
        guard reusable, !connection.isClosed, (idle[server]?.count ?? 0) < limit else {
            connection.channel.close(promise: nil)
            return
        }
        connection.idleIn = self
        idle[server, default: []].append(connection)
    }

    /// An idle connection the upstream closed.
    func idleConnectionClosed(_ connection: UpstreamConnection) {
        idle[connection.server]?.removeAll { $0 === connection }
    }

    /// A leased connection that leaves the pool's care for good (it became a tunnel).
    func detach(_ connection: UpstreamConnection) {
        active[connection.server, default: 1] -= 1
    }

    /// A lease that never produced a connection.
    func abandon(_ server: UpstreamServer) {
        active[server, default: 1] -= 1
    }

    /// Marks `server` as refusing connections.
    func markDown(_ server: UpstreamServer, reason: String) {
        if (downUntil[server] ?? .uptimeNanoseconds(0)) <= eventLoop.now {
            logger.warning("upstream server refuses connections; skipping it for a while", metadata: [
                "upstream": "\(server.upstream)", "server": "\(server)", "cause": "\(reason)", "skip": "\(Self.failTimeout.nanoseconds / 1_000_000_000)s",
            ])
        }
        downUntil[server] = eventLoop.now + Self.failTimeout
    }

    private func connect(_ server: UpstreamServer, _ completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection(channel: channel, server: server))
                }
            }
        let connected: EventLoopFuture<any Channel>
        switch server.address {
        case .unix(let path): connected = bootstrap.connect(unixDomainSocketPath: path)
        case .tcp(let host, let port): connected = bootstrap.connect(host: host, port: port)
        }
        connected.assumeIsolated().whenComplete { result in
            completion(result.flatMap { channel in
                Result { try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self) }
            })
        }
    }
}
