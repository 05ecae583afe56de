import NIOCore

/// A deadline that moves often and is rarely reached: an upstream's next byte, a tunnel's next byte either way.
///
/// Moving it only records the time. One scheduled check per connection looks at it when it runs, and moves itself
/// to the current deadline if that has moved on, as `ConnectionTimer` does, so a busy connection schedules about
/// one task per timeout period rather than one per request or read.
final class LazyDeadline {
    private let eventLoop: any EventLoop
    private var onExpiry: (() -> Void)?
    private var due: NIODeadline?
    private var check: Scheduled<Void>?
    private var checkAt = NIODeadline.distantFuture

    /// `onExpiry` runs on `eventLoop` when a deadline passes. It may hold its owner strongly (a weak reference would
    /// send every retain of the owner through the runtime's slow path): the owner ends that cycle with `cancel()`.
    init(on eventLoop: any EventLoop, onExpiry: @escaping () -> Void) {
        self.eventLoop = eventLoop
        self.onExpiry = onExpiry
    }

    /// Sets the deadline; nil means nothing is expected.
    func expect(by deadline: NIODeadline?) {
        due = deadline
        guard let deadline, check == nil || checkAt > deadline else { return }
        schedule(at: deadline)
    }

    /// Stops for good: the deadline, its check and its action are dropped, and with the action whatever it holds.
    func cancel() {
        due = nil
        onExpiry = nil
        check?.cancel()
        check = nil
        checkAt = .distantFuture
    }

    private func schedule(at deadline: NIODeadline) {
        check?.cancel()
        checkAt = deadline
        check = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            check = nil
            checkAt = .distantFuture
            guard let due else { return }
            if due <= eventLoop.now {
                self.due = nil
                onExpiry?()
            } else {
                schedule(at: due)
            }
        }
    }
}
