import NIOCore

/// Runs app code on the connection's own event loop.
///
/// An app's handler then shares its thread with the connection's I/O: no thread hops between the app and its
/// writer, and an app that blocks its thread stops its event loop's heartbeat, so the master replaces the worker
/// after `timeout` (gunicorn's worker timeout), naming the request it was serving.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {  // immutable; EventLoop is Sendable
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
