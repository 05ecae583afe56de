import NIOCore
import Testing

@testable import EdgeCore

/// The send timeout with an injected clock: a stalled write is judged by the bytes the client acknowledges.
@Suite struct ConnectionTimerTests {
    private let second = TimeAmount.seconds(1)
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// `#expect` cannot call a mutating method on its own.
    private func noted(_ timer: inout ConnectionTimer, _ bytes: UInt64?, now: NIODeadline) -> Bool {
        timer.noteAcknowledged(bytes, now: now)
    }

    @Test func aStalledSendExpiresOneTimeoutAfterTheLastProgress() {
        var timer = ConnectionTimer()
        timer.noteWriteProgress(now: start)
        #expect(timer.nextDeadline(sendStalled: true, sendTimeout: second) == start + second)
        #expect(timer.nextDeadline(sendStalled: false, sendTimeout: second) == nil)
        #expect(timer.expired(now: start + .milliseconds(999), sendStalled: true, sendTimeout: second) == .none)
        #expect(timer.expired(now: start + second, sendStalled: true, sendTimeout: second) == .send)
    }

    @Test func acknowledgedBytesThatGrowCountAsProgressAndBytesThatDoNotCloseTheConnection() {
        var timer = ConnectionTimer()
        timer.noteWriteProgress(now: start)
        var now = start + second
        #expect(timer.expired(now: now, sendStalled: true, sendTimeout: second) == .send)
        // Not a TCP socket: nothing to go by, the timeout stands.
        #expect(!noted(&timer, nil, now: now))
        // The first look has nothing to compare with: it counts, and the deadline moves.
        #expect(noted(&timer, 4096, now: now))
        #expect(timer.nextDeadline(sendStalled: true, sendTimeout: second) == now + second)
        // A slow reader: more acknowledged a period later, so the deadline moves again.
        now = now + second
        #expect(timer.expired(now: now, sendStalled: true, sendTimeout: second) == .send)
        #expect(noted(&timer, 8192, now: now))
        #expect(timer.expired(now: now + .milliseconds(500), sendStalled: true, sendTimeout: second) == .none)
        // A reader that stopped: the same count a period later is no progress.
        now = now + second
        #expect(timer.expired(now: now, sendStalled: true, sendTimeout: second) == .send)
        #expect(!noted(&timer, 8192, now: now))
    }
}
