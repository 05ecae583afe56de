import NIOCore
import NIOEmbedded
import Testing

@testable import EdgeCore

/// Turns for file sends, on an event loop whose clock the test moves.
@Suite struct FileSendTurnsTests {
    private let loop = EmbeddedEventLoop()

    @Test func sendsWaitingTogetherShareTheNextTurn() {
        let turns = FileSendTurns(eventLoop: loop)
        var ran: [String] = []
        turns.wait { ran.append("a") }
        turns.wait { ran.append("b") }
        loop.run()
        #expect(ran.isEmpty)  // not at once: the loop polls first
        loop.advanceTime(by: FileSendTurns.gap)
        #expect(ran == ["a", "b"])
    }

    @Test func aSendGoingOnFromItsRoundWaitsForTheTurnAfter() {
        let turns = FileSendTurns(eventLoop: loop)
        var rounds = 0
        func round() {
            rounds += 1
            if rounds < 3 { turns.wait(round) }
        }
        turns.wait(round)
        // One round per turn, each turn a gap after the last: never two rounds of one send without a poll between.
        for turn in 1...3 {
            loop.advanceTime(by: FileSendTurns.gap)
            #expect(rounds == turn)
        }
        loop.advanceTime(by: FileSendTurns.gap * 10)
        #expect(rounds == 3)
    }
}
