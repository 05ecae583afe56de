import NIOCore

/// Makes the file sends of one event loop take turns with each other and with the loop's sockets.
///
/// A body read from disk (over TLS or HTTP/2, or gzipped on the way) is produced on the event loop. When a client
/// takes bytes as fast as they are made (a client on the same host or LAN, or any client of a file being gzipped),
/// the send never waits for its socket. NIO reports the returning writability from inside its own flush and runs
/// queued tasks until none is left before it polls again, so a send continued at once, or from a plain queued task,
/// would keep the loop until its body ended: other connections on the loop, new ones included, would wait (nginx
/// does the same; measured: 9 s for a small file behind four 157 MB gzipped downloads).
///
/// Here a send that can go on waits for the next turn instead. A turn runs one round of every waiting send, and the
/// next turn is scheduled a little later, after the current round has ended, so the loop finds no task due, polls
/// its sockets, and only then runs the next turn.
final class FileSendTurns {
    /// Long enough that the loop polls between two turns, short against a round's work (reading, and perhaps
    /// gzipping, up to a megabyte).
    static let gap = TimeAmount.microseconds(20)

    private let eventLoop: any EventLoop
    private var waiting: [() -> Void] = []
    private var turnScheduled = false
    private var inTurn = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Runs `round` in the next turn.
    func wait(_ round: @escaping () -> Void) {
        waiting.append(round)
        // A send going on from inside a turn is scheduled when the turn ends: a gap counted from now would be over
        // by then, and the next turn would run without a poll.
        if !inTurn { scheduleTurn() }
    }

    private func scheduleTurn() {
        guard !turnScheduled, !waiting.isEmpty else { return }
        turnScheduled = true
        eventLoop.assumeIsolated().scheduleTask(in: Self.gap) { self.takeTurn() }
    }

    private func takeTurn() {
        turnScheduled = false
        let rounds = waiting
        waiting.removeAll(keepingCapacity: true)
        inTurn = true
        for round in rounds { round() }
        inTurn = false
        scheduleTurn()
    }
}
