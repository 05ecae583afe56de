import NIOCore

/// One lazily rescheduled timer per connection for its request timeout (header or keep-alive) and its send
/// timeout.
///
/// Re-arming only moves a deadline; a scheduled task is created only when none is pending early enough. A busy
/// keep-alive connection therefore schedules about one task per timeout period rather than one per request.
struct ConnectionTimer {
    /// Which deadline passed.
    enum Expiry: Equatable {
        case none
        case request(HTTP1ConnectionState.Timeout)
        case send
    }

    private var requestTimeout: HTTP1ConnectionState.Timeout = .header
    private var requestDeadline: NIODeadline?
    private var lastWriteProgress = NIODeadline.uptimeNanoseconds(0)
    /// The peer's acknowledged byte count when it was last looked at, on TCP connections.
    private var acknowledged: UInt64?
    private var scheduled: Scheduled<Void>?
    private var scheduledAt = NIODeadline.distantFuture

    mutating func arm(_ timeout: HTTP1ConnectionState.Timeout, at deadline: NIODeadline) {
        requestTimeout = timeout
        requestDeadline = deadline
    }

    mutating func disarm() {
        requestDeadline = nil
    }

    mutating func noteWriteProgress(now: NIODeadline) {
        lastWriteProgress = now
    }

    /// Looks at how many bytes the peer has acknowledged when the send deadline passes: any growth since the last
    /// look is progress, so the send timeout measures time without a byte reaching the client (nginx's
    /// `send_timeout`), not time per finished write, and a slow but steady reader of a large `sendfile` chunk is not
    /// cut off. The first look on a connection has nothing to compare with and counts as progress, so a client that
    /// stops reading altogether is closed after one to two periods. Returns whether there was progress.
    mutating func noteAcknowledged(_ bytes: UInt64?, now: NIODeadline) -> Bool {
        guard let bytes else { return false }
        defer { acknowledged = bytes }
        guard acknowledged.map({ bytes > $0 }) ?? true else { return false }
        lastWriteProgress = now
        return true
    }

    /// The earliest deadline that matters now.
    func nextDeadline(sendStalled: Bool, sendTimeout: TimeAmount) -> NIODeadline? {
        let sendDeadline = sendStalled ? lastWriteProgress + sendTimeout : nil
        switch (requestDeadline, sendDeadline) {
        case (nil, nil): return nil
        case (let request?, nil): return request
        case (nil, let send?): return send
        case (let request?, let send?): return min(request, send)
        }
    }

    /// Which deadline, if any, has passed at `now`. A passed request deadline is consumed.
    mutating func expired(now: NIODeadline, sendStalled: Bool, sendTimeout: TimeAmount) -> Expiry {
        scheduled = nil
        scheduledAt = .distantFuture
        if sendStalled && lastWriteProgress + sendTimeout <= now { return .send }
        if let deadline = requestDeadline, deadline <= now {
            requestDeadline = nil
            return .request(requestTimeout)
        }
        return .none
    }

    /// Whether a check already runs at or before `deadline`, so `schedule` would do nothing. Asked first so the
    /// common case (a busy keep-alive connection) does not even build the check's closure.
    func hasCheck(atOrBefore deadline: NIODeadline) -> Bool {
        scheduled != nil && scheduledAt <= deadline
    }

    /// Makes sure a check runs at or before `deadline`.
    mutating func schedule(at deadline: NIODeadline, on loop: any EventLoop, _ check: @escaping () -> Void) {
        if hasCheck(atOrBefore: deadline) { return }
        scheduled?.cancel()
        scheduledAt = deadline
        scheduled = loop.assumeIsolated().scheduleTask(deadline: deadline, check)
    }

    mutating func cancel() {
        scheduled?.cancel()
        scheduled = nil
        requestDeadline = nil
    }
}
