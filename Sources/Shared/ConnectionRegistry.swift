import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Counts and tracks the client connections of all listeners: refuses connections above `max_connections` at
/// accept time, and on a graceful stop asks every open connection to finish and waits until all are gone.
public final class ConnectionRegistry: Sendable {
    fileprivate struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        /// Connections accepted but not yet set up; a drain waits for them too.
        var pending = 0
        var draining = false
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var refusals = WarningThrottle()
    }

    private let state = NIOLockedValueBox(State())
    private let maxConnections: Int
    private let logger: Logger

    public init(maxConnections: Int, logger: Logger) {
        self.maxConnections = maxConnections
        self.logger = logger
    }

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
        let (admitted, warnCount, draining) = state.withLockedValue { state -> (Bool, Int?, Bool) in
            if reserved { state.pending -= 1 }
            if state.open.count < maxConnections {
                // A connection accepted just as a stop began is still served (and told to finish at once):
                // closing it unanswered would fail a request the client has already sent.
                state.open[ObjectIdentifier(child)] = child
                return (true, nil, state.draining)
            }
            return (false, state.refusals.note(), false)
        }
        guard admitted else {
            if let warnCount {
                logger.warning(
                    "max_connections reached; refusing new connections",
                    metadata: ["max_connections": "\(maxConnections)", "refused": "\(warnCount)"])
            }
            child.close(promise: nil)
            return false
        }
        child.closeFuture.whenComplete { _ in self.remove(child) }
        if draining { child.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        return true
    }

    private func remove(_ child: any Channel) {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.open[ObjectIdentifier(child)] = nil
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
