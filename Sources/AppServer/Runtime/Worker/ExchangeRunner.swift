import Logging
import NIOCore

/// Runs a connection's exchanges through the app one after another, in one task that lives as long as the
/// connection (as hummingbird serves a connection), rather than one new task per request.
///
/// Creating, scheduling and tearing down a task per request was about 4,000 instructions of a worker's
/// per-request profile; handing the next exchange to a waiting task is one continuation resume. The connection
/// handler starts one exchange at a time (pipelined requests wait for the response before), so at most one
/// exchange is ever pending here.
///
/// Confined to the connection's event loop: `submit` and `close` are called by the handler on it, and the task
/// runs there too, because its executor preference is that loop.
final class ExchangeRunner: @unchecked Sendable {
    /// One request for the app and the writer for its response (the connection handler's `Exchange` tracks the
    /// rest of that exchange).
    struct Work {
        let request: AppRequest
        let writer: ChannelResponseWriter
    }

    private let eventLoop: any EventLoop
    private var waiting: UnsafeContinuation<Work?, Never>?
    private var pending: Work?
    private var closed = false

    /// Starts the connection's task; it runs `app` for each submitted exchange until `close()`.
    init(app: any HTTPApplication, logger: Logger, executor: EventLoopTaskExecutor) {
        self.eventLoop = executor.eventLoop
        Task(executorPreference: executor) { [self] in
            while let work = await next() {
                await Self.serve(work, app: app, logger: logger)
            }
        }
    }

    /// Hands the app the next exchange.
    func submit(_ work: Work) {
        eventLoop.assertInEventLoop()
        // Often called from inside the current exchange's last write (the handler starts the next request as soon
        // as a response is complete), while the task is busy: the exchange then waits here for `next()`.
        assert(pending == nil, "the connection handler starts one exchange at a time")
        if let waiting {
            self.waiting = nil
            waiting.resume(returning: work)
        } else {
            pending = work
        }
    }

    /// The connection is gone: the task ends once the exchange in progress, if any, is done.
    func close() {
        eventLoop.assertInEventLoop()
        closed = true
        if let waiting {
            self.waiting = nil
            waiting.resume(returning: nil)
        }
    }

    private func next() async -> Work? {
        eventLoop.assertInEventLoop()
        if let work = pending {
            pending = nil
            return work
        }
        if closed { return nil }
        return await withUnsafeContinuation { waiting = $0 }
    }

    private static func serve(_ work: Work, app: any HTTPApplication, logger: Logger) async {
        let request = work.request  // logged by method and path: reading `head` would build all its fields
        do {
            try await app.handle(work.request, writer: work.writer)
            try await work.writer.finishIfNeeded()
        } catch is ConnectionClosed {
            logger.debug(
                "client went away before the response was complete", metadata: ["path": "\(request.path ?? "")"])
        } catch let error as HTTPResponseError {
            var metadata: Logger.Metadata = [
                "method": "\(request.method)", "path": "\(request.path ?? "")", "status": "\(error.status.code)",
                "reason": "\(error.message)",
            ]
            if let id = requestID(of: request) { metadata["request_id"] = "\(id)" }
            logger.notice("request refused", metadata: metadata)
            await work.writer.refuse(error)
        } catch {
            var metadata: Logger.Metadata = [
                "method": "\(request.method)", "path": "\(request.path ?? "")", "error": "\(error)",
            ]
            if let id = requestID(of: request) { metadata["request_id"] = "\(id)" }
            logger.error("request failed", metadata: metadata)
            await work.writer.fail()
        }
    }

    /// The id Edge gave the request (`X-Request-ID`), for the lines about a request that went wrong, so they join
    /// both access logs. Reading it builds the request's head, which only these rare lines do.
    private static func requestID(of request: AppRequest) -> Substring? {
        request.head.headerFields[.xRequestID]?.prefix(128)
    }
}
