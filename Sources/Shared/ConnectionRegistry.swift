import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Counts and tracks the client connections of all listeners: refuses connections above `max_connections` at
/// accept time, and on a graceful stop asks every open connection to finish and waits until all are gone.
public final class ConnectionRegistry: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var draining = false
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var refusedSinceLastWarning = 0
        var lastWarning = NIODeadline.uptimeNanoseconds(0)
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

    /// A handler for a listening channel's pipeline; it sees each accepted connection before it is set up.
    public func makeAcceptHandler() -> some ChannelInboundHandler { AcceptHandler(registry: self) }

    /// Admits `child` if below the limit and not draining; otherwise closes it at once. Channels that did not come
    /// through a listening channel's pipeline (accepted by hand) register themselves here.
    public func admit(_ child: any Channel) -> Bool {
        let (admitted, warnCount, draining) = state.withLockedValue { state -> (Bool, Int?, Bool) in
            if state.open.count < maxConnections {
                // A connection accepted just as a stop began is still served (and told to finish at once):
                // closing it unanswered would fail a request the client has already sent.
                state.open[ObjectIdentifier(child)] = child
                return (true, nil, state.draining)
            }
            state.refusedSinceLastWarning += 1
            let now = NIODeadline.now()
            guard now - state.lastWarning >= .seconds(1) else { return (false, nil, false) }
            state.lastWarning = now
            defer { state.refusedSinceLastWarning = 0 }
            return (false, state.refusedSinceLastWarning, false)
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
            guard state.draining && state.open.isEmpty else { return [] }
            defer { state.drainWaiters = [] }
            return state.drainWaiters
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
                if state.open.isEmpty { return true }
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
