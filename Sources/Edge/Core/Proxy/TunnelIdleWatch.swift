import NIOCore

/// Closes a tunnel in which no byte has moved either way for `timeout`, so tunnels whose client vanished without
/// closing (a phone that lost its network) do not hold two connections for ever. nginx closes an upgraded
/// connection after `proxy_read_timeout` of silence in the same way; WebSocket apps ping well within it.
///
/// Checked lazily, as `ConnectionTimer` is: activity only records the time, and one scheduled check per timeout
/// period looks at it, however busy the tunnel.
final class TunnelIdleWatch {
    private let timeout: TimeAmount
    private let onIdle: () -> Void
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var check: Scheduled<Void>?

    init(timeout: TimeAmount, onIdle: @escaping () -> Void) {
        self.timeout = timeout
        self.onIdle = onIdle
    }

    /// Starts watching; the first call wins (both ends of the tunnel call it).
    func start(on eventLoop: any EventLoop) {
        guard check == nil else { return }
        lastActivity = eventLoop.now
        schedule(at: lastActivity + timeout, on: eventLoop)
    }

    func noteActivity(at now: NIODeadline) {
        lastActivity = now
    }

    func stop() {
        check?.cancel()
        check = nil
    }

    private func schedule(at deadline: NIODeadline, on eventLoop: any EventLoop) {
        check = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            let due = lastActivity + timeout
            if due <= eventLoop.now {
                check = nil
                onIdle()
            } else {
                schedule(at: due, on: eventLoop)
            }
        }
    }
}
