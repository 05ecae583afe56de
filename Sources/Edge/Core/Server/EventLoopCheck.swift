import Dispatch
import NIOConcurrencyHelpers
import NIOCore

/// Whether every event loop of a group still runs its tasks: what Edge's systemd watchdog pings stand for.
enum EventLoopCheck {
    /// Gives each loop a task that checks in, and waits up to `timeout` for all of them. A loop stuck in a long
    /// computation or a blocking call does not check in, so the answer is false and the watchdog ping is withheld.
    /// The wait ends at the timeout whatever the stuck loop does: its check-in, if it ever comes, is ignored.
    static func allAnswer(_ loops: [any EventLoop], within timeout: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let state = NIOLockedValueBox((answered: false, waitingFor: loops.count))
            @Sendable func answer(_ value: Bool) {
                let first = state.withLockedValue { state in
                    defer { state.answered = true }
                    return !state.answered
                }
                if first { continuation.resume(returning: value) }
            }
            for loop in loops {
                loop.execute {
                    let last = state.withLockedValue { state in
                        state.waitingFor -= 1
                        return state.waitingFor == 0
                    }
                    if last { answer(true) }
                }
            }
            let nanoseconds =
                timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { answer(false) }
        }
    }
}
