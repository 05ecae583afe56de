import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Counts and tracks the client connections of all listeners: refuses connections above `max_connections` (and
/// above a limit per client address) at accept time, and on a graceful stop asks every open connection to finish
/// and waits until all are gone.
public final class ConnectionRegistry: Sendable {
    /// At most `max` connections at once from one client address; addresses `isExempt` says so of are not counted
    /// (a CDN or proxy in front, whose one address stands for many clients).
    public struct PerClientLimit: Sendable {
        public var max: Int
        public var isExempt: @Sendable (String) -> Bool

        public init(max: Int, isExempt: @escaping @Sendable (String) -> Bool = { _ in false }) {
            self.max = max
            self.isExempt = isExempt
        }
    }

    fileprivate struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        /// Open connections per counted client address, and the address of each counted connection.
        var perClient: [String: Int] = [:]
        var clientOf: [ObjectIdentifier: String] = [:]
        var clientRefusals = PerClientWarningThrottle()
        /// Connections accepted but not yet set up; a drain waits for them too.
        var pending = 0
        var draining = false
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var refusals = WarningThrottle()
    }

    private let state = NIOLockedValueBox(State())
    private let maxConnections: Int
    private let perClientLimit: PerClientLimit?
    private let logger: Logger
    /// Told of each refused connection, with the limit that refused it (`max_connections`,
    /// `max_connections_per_ip`): the metrics' count.
    private let onRefusal: (@Sendable (String) -> Void)?

    public init(
        maxConnections: Int, perClient: PerClientLimit? = nil, logger: Logger,
        onRefusal: (@Sendable (String) -> Void)? = nil
    ) {
        self.maxConnections = maxConnections
        self.perClientLimit = perClient
        self.logger = logger
        self.onRefusal = onRefusal
    }

    /// Open connections from `client` right now, as the per-client limit counts them.
    public func count(of client: String) -> Int { state.withLockedValue { $0.perClient[client] ?? 0 } }

    /// Open connections right now.
    public var count: Int { state.withLockedValue { $0.open.count } }

    /// Announces a connection accepted by hand that will be `admit`ted (or `abandon`ed) once set up, so a drain
    /// starting in between does not finish without it.
    public func reserve() {
        state.withLockedValue { $0.pending += 1 }
    }

    /// A reserved connection could not be set up.
    public func abandon() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.pending -= 1
            return state.takeWaitersIfDrained()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// A handler for a listening channel's pipeline; it sees each accepted connection before it is set up.
    public func makeAcceptHandler() -> some ChannelInboundHandler { AcceptHandler(registry: self) }

    /// Admits `child` if below the limit and not draining; otherwise closes it at once. Channels that did not come
    /// through a listening channel's pipeline (accepted by hand) register themselves here.
    public func admit(_ child: any Channel, reserved: Bool = false) -> Bool {
        // The address is read outside the lock; it is counted only under a per-client limit that does not exempt it.
        let client = perClientLimit.flatMap { limit in
            child.remoteAddress?.ipAddress.flatMap { limit.isExempt($0) ? nil : $0 }
        }
        let (outcome, draining) = state.withLockedValue { state -> (Admission, Bool) in
            if reserved { state.pending -= 1 }
            guard state.open.count < maxConnections else { return (.refused(state.refusals.note()), false) }
            if let client, let limit = perClientLimit {
                let open = state.perClient[client, default: 0]
                guard open < limit.max else {
                    return (.refusedForClient(client, state.clientRefusals.note(client: client)), false)
                }
                state.perClient[client] = open + 1
                state.clientOf[ObjectIdentifier(child)] = client
            }
            // A connection accepted just as a stop began is still served (and told to finish at once): closing it
            // unanswered would fail a request the client has already sent.
            state.open[ObjectIdentifier(child)] = child
            return (.admitted, state.draining)
        }
        switch outcome {
        case .admitted:
            break
        case .refused(let warnCount):
            if let warnCount {
                logger.warning(
                    "max_connections reached; refusing new connections",
                    metadata: ["max_connections": "\(maxConnections)", "refused": "\(warnCount)"])
            }
            onRefusal?("max_connections")
            child.close(promise: nil)
            return false
        case .refusedForClient(let client, let warnCount):
            if let warnCount {
                logger.warning(
                    "max_connections_per_ip reached; refusing the client's new connections",
                    metadata: [
                        "client": "\(client)", "max_connections_per_ip": "\(perClientLimit?.max ?? 0)",
                        "refused": "\(warnCount)",
                    ])
            }
            onRefusal?("max_connections_per_ip")
            child.close(promise: nil)
            return false
        }
        child.closeFuture.whenComplete { _ in self.remove(child) }
        if draining { child.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        return true
    }

    private enum Admission {
        case admitted
        /// Over `max_connections`; the count to log, when a line is due.
        case refused(Int?)
        /// Over the per-client limit.
        case refusedForClient(String, Int?)
    }

    private func remove(_ child: any Channel) {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.open[ObjectIdentifier(child)] = nil
            if let client = state.clientOf.removeValue(forKey: ObjectIdentifier(child)) {
                let open = (state.perClient[client] ?? 1) - 1
                state.perClient[client] = open > 0 ? open : nil
            }
            return state.takeWaitersIfDrained()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Tells every connection to finish its current request and close, refuses new ones, and returns once all
    /// connections are closed.
    public func drain() async {
        let channels = state.withLockedValue { state in
            state.draining = true
            return Array(state.open.values)
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        await withCheckedContinuation { continuation in
            let done = state.withLockedValue { state in
                if state.open.isEmpty && state.pending == 0 { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Closes every connection now (fast stop, or a graceful stop that ran out of time).
    public func closeAll() {
        let channels = state.withLockedValue { Array($0.open.values) }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Tells the connections running on `loops` to finish their current request and close, and returns once they
    /// are gone (event loops that a reload replaced; they accept nothing new). The rest are not affected.
    public func drain(on loops: [any EventLoop]) async {
        let channels = self.channels(on: loops)
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        for channel in channels { try? await channel.closeFuture.get() }
    }

    /// Closes the connections running on `loops` now.
    public func closeAll(on loops: [any EventLoop]) {
        for channel in channels(on: loops) { channel.close(promise: nil) }
    }

    private func channels(on loops: [any EventLoop]) -> [any Channel] {
        state.withLockedValue { state in
            state.open.values.filter { channel in loops.contains { $0 === channel.eventLoop } }
        }
    }
}

/// Sits on a listening channel; accepted channels arrive here as inbound messages.
private final class AcceptHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let registry: ConnectionRegistry

    init(registry: ConnectionRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        guard registry.admit(child) else { return }
        context.fireChannelRead(data)
    }
}

extension ConnectionRegistry.State {
    mutating func takeWaitersIfDrained() -> [CheckedContinuation<Void, Never>] {
        guard draining && open.isEmpty && pending == 0 else { return [] }
        defer { drainWaiters = [] }
        return drainWaiters
    }
}
