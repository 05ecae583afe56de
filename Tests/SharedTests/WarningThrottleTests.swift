import NIOCore
import Testing

@testable import Shared

@Suite struct WarningThrottleTests {
    @Test func warnsAtOnceThenOncePerIntervalWithWhatWasHeldBack() {
        var throttle = WarningThrottle(interval: .seconds(1))
        let start = NIODeadline.uptimeNanoseconds(10_000_000_000)
        #expect(throttle.note(now: start) == 1)
        #expect(throttle.note(now: start + .milliseconds(300)) == nil)
        #expect(throttle.note(5, now: start + .milliseconds(900)) == nil)
        // The next warning reports everything since the last one, itself included.
        #expect(throttle.note(now: start + .seconds(1)) == 7)
        #expect(throttle.note(now: start + .milliseconds(1_500)) == nil)
        #expect(throttle.note(now: start + .seconds(3)) == 2)
    }
}
