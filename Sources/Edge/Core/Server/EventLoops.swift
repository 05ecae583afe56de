import NIOCore
import NIOPosix
import Shared

/// The event-loop threads and each loop's access-log batch. They live as long as the server, or until a reload
/// changes `threads`: then a new set serves new connections, and this one finishes its connections and stops.
final class EventLoops: Sendable {
    let group: MultiThreadedEventLoopGroup
    let accessLogs: PerLoop<AccessLogBuffer>

    /// Starts `threads` loops whose access-log batches go to `sink` in `format`, flushed every second.
    init(threads: Int, sink: AccessLogSink, format: AccessLogFormat) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            accessLogs = try PerLoop(group: group) { AccessLogBuffer(sink: sink, format: format) }
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        accessLogs.every(.seconds(1)) { $0.flush() }
    }

    var loops: [any EventLoop] { Array(group.makeIterator()) }

    /// Whether `loop` is one of these.
    func contains(_ loop: any EventLoop) -> Bool {
        group.makeIterator().contains { $0 === loop }
    }

    /// Runs every loop twice: what a loop had queued (an accepted connection being set up) has run after it.
    func settle() async {
        for _ in 0..<2 {
            for loop in group.makeIterator() { try? await loop.submit {}.get() }
        }
    }

    /// Writes the pending access-log lines and stops the threads.
    func shutdown() async {
        await accessLogs.forEach { $0.flush() }
        try? await group.shutdownGracefully()
    }
}
