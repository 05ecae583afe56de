import Foundation
import NIOCore
import NIOPosix
import Shared
import Testing

@testable import EdgeCore

@Suite struct EventLoopCheckTests {
    /// A loop stuck in a blocking call does not answer, so Edge withholds its watchdog ping; once free, it answers.
    @Test func aBlockedLoopDoesNotAnswer() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        #expect(await EventLoopCheck.allAnswer(loops, within: .seconds(5)))
        let release = DispatchSemaphore(value: 0)
        loops[1].execute { release.wait() }
        #expect(!(await EventLoopCheck.allAnswer(loops, within: .milliseconds(200))))
        release.signal()
        #expect(await EventLoopCheck.allAnswer(loops, within: .seconds(5)))
        try await group.shutdownGracefully()
    }

    /// `WATCHDOG_PID` naming another process (a child that inherited the environment) means no watchdog here.
    @Test func theWatchdogIsOnlyForThePIDSystemdNamed() {
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "500000"]) == .milliseconds(500))
        #expect(
            SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "\(getpid())"])
                == .milliseconds(500))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"]) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: [:]) == nil)
    }
}
