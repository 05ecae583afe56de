import NIOCore
import Testing

@testable import Shared

@Suite struct PerClientWarningThrottleTests {
    let start = NIODeadline.uptimeNanoseconds(10_000_000_000)

    @Test func eachClientIsThrottledOnItsOwn() {
        var throttle = PerClientWarningThrottle(interval: .seconds(1))
        #expect(throttle.note(client: "192.0.2.1", now: start) == 1)
        #expect(throttle.note(client: "192.0.2.1", now: start + .milliseconds(100)) == nil)
        // Another client is reported at once, while the first is held back.
        #expect(throttle.note(client: "192.0.2.2", now: start + .milliseconds(200)) == 1)
        #expect(throttle.note(client: "192.0.2.1", now: start + .milliseconds(300)) == nil)
        #expect(throttle.note(client: "192.0.2.1", now: start + .seconds(1)) == 3)
    }

    /// Many addresses cannot grow the table past its capacity; a client seen again is then reported afresh.
    @Test func theTableStaysWithinItsCapacity() {
        var throttle = PerClientWarningThrottle(interval: .seconds(60), capacity: 3)
        for index in 0..<10 {
            #expect(throttle.note(client: "198.51.100.\(index)", now: start) == 1)
        }
        #expect(throttle.note(client: "198.51.100.9", now: start) == nil, "the newest client is still known")
        // Entries whose interval passed make room first: the client that stays recent keeps its count.
        var aging = PerClientWarningThrottle(interval: .seconds(1), capacity: 2)
        #expect(aging.note(client: "a", now: start) == 1)
        #expect(aging.note(client: "b", now: start + .milliseconds(1_500)) == 1)
        #expect(aging.note(client: "b", now: start + .milliseconds(1_600)) == nil)
        #expect(aging.note(client: "c", now: start + .milliseconds(2_100)) == 1)
        #expect(aging.note(client: "b", now: start + .milliseconds(2_200)) == nil, "b was kept: only a had gone quiet")
    }
}
