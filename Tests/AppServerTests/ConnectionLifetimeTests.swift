import HTTPTypes
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import AppServer
@testable import Shared

#if canImport(Glibc)
import Glibc
#endif

/// A worker serves connection after connection for its whole life (gunicorn's `max_requests` is off by default, and
/// nginx opens a new upstream connection per request unless told otherwise). Each closed connection must leave
/// nothing behind: a handler kept alive by a reference cycle once grew a worker by about 1.3 KB per connection.
///
/// A real event loop and real sockets, because the handler's app task runs on that loop.
@Suite struct ConnectionLifetimeTests {
    @Test func closedConnectionsFreeTheirHandlers() throws {
        let server = try TrackedServer()
        defer { server.stop() }

        // The server closes (Connection: close).
        let first = try RawConnection(port: server.port)
        try first.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try first.readResponse().bodyText == "hello")
        #expect(first.waitForClose())

        // The client closes a kept-alive connection after two requests.
        let second = try RawConnection(port: server.port)
        for _ in 0..<2 {
            try second.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try second.readResponse().bodyText == "hello")
        }
        second.close()

        #expect(server.tracker.made == 2)
        #expect(server.tracker.waitUntilAllFreed(), "handlers still alive: \(server.tracker.alive)")
    }

    /// An `HTTPResponseError` thrown before the head is the client's answer, and the connection goes on serving;
    /// thrown after it, the response cannot be honestly finished, so the connection is cut.
    @Test func aRefusalAnswersWithItsStatusUnlessTheResponseHadBegun() throws {
        let server = try TrackedServer()
        defer { server.stop() }

        let client = try RawConnection(port: server.port)
        try client.send("GET /refuse HTTP/1.1\r\nHost: x\r\n\r\n")
        let refused = try client.readResponse()
        #expect(refused.status == 422)
        #expect(refused.bodyText == "the widget needs a name\n")
        try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readResponse().bodyText == "hello")

        let late = try RawConnection(port: server.port)
        try late.send("GET /refuse-late HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(throws: (any Error).self) { try late.readResponse() }  // chunked, never ended: not a whole response
        #expect(late.waitForClose())
    }

    /// An app whose body disagrees with its own `Content-Length` must not break the connection for the next
    /// request: extra bytes would be read as the next response (a desync any proxy pooling this connection would
    /// pass to another client), missing ones would leave the client waiting.
    @Test func aBodyLongerThanItsContentLengthIsCutAndTheConnectionGoesOn() throws {
        let server = try TrackedServer()
        defer { server.stop() }

        let client = try RawConnection(port: server.port)
        for path in ["/too-long", "/too-long-whole"] {
            try client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("Content-Length") == "5")
            #expect(response.bodyText == "hello")
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().bodyText == "hello")
        }
        #expect(client.unreadText.isEmpty)
    }

    @Test func aBodyShorterThanItsContentLengthEndsTheConnection() throws {
        let server = try TrackedServer()
        defer { server.stop() }

        for path in ["/too-short", "/too-short-whole"] {
            let client = try RawConnection(port: server.port)
            try client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(throws: (any Error).self) { try client.readResponse() }  // ten bytes promised, five sent
            #expect(client.waitForClose())
        }
        // A Content-Length that is not a number is dropped; the body is framed by AppServer instead.
        let client = try RawConnection(port: server.port)
        try client.send("GET /bad-length HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.header("Content-Length") == "5")
        #expect(response.bodyText == "hello")
    }

    /// The app may still be running when its client goes; its late writes fail cleanly and the handler is freed
    /// once the app returns.
    @Test func anAppStillRunningWhenItsClientLeavesWritesNothingAndLetsGo() throws {
        let server = try TrackedServer()
        defer { server.stop() }

        let client = try RawConnection(port: server.port)
        try client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(server.app.waitUntilSlowRequestStarted())
        client.close()
        #expect(server.tracker.waitUntilAllClosed())
        server.app.releaseSlowRequest()

        #expect(server.app.waitForLateWriteOutcome() == "failed")
        #expect(server.tracker.waitUntilAllFreed(), "handlers still alive: \(server.tracker.alive)")

        // And the worker goes on serving.
        let next = try RawConnection(port: server.port)
        try next.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try next.readResponse().bodyText == "hello")
    }
}

/// `/hello` answers at once; `/slow` waits until the test releases it, then tries to answer; `/refuse` throws an
/// `HTTPResponseError` before writing, `/refuse-late` after writing the head; the `mismatched` routes write bodies
/// that disagree with their own `Content-Length`.
private final class TestApp: HTTPApplication {
    struct Refusal: HTTPResponseError {
        var status: HTTPResponse.Status { .unprocessableContent }
        var message: String { "the widget needs a name" }
    }

    private struct State {
        var slowStarted = false
        var lateWrite: String?
    }
    private let state = NIOLockedValueBox(State())
    /// Finished by the test to let `/slow` go on.
    private let (released, release) = AsyncStream<Void>.makeStream()

    func handle(_ request: AppRequest, writer: some ResponseWriter) async throws {
        if request.path == "/slow" {
            state.withLockedValue { $0.slowStarted = true }
            for await _ in released {}
            do {
                try await writer.write(HTTPResponse(status: .ok), body: ByteBuffer(string: "late"))
                state.withLockedValue { $0.lateWrite = "written" }
            } catch {
                state.withLockedValue { $0.lateWrite = "failed" }
            }
            return
        }
        if let (declared, body, whole) = Self.mismatched[request.path ?? ""] {
            var response = HTTPResponse(status: .ok)
            response.headerFields[.contentLength] = declared
            if whole {
                try await writer.write(response, body: ByteBuffer(string: body))
            } else {
                try await writer.writeHead(response)
                try await writer.writeBody(ByteBuffer(string: body))
                try await writer.finish()
            }
            return
        }
        if request.path == "/refuse" { throw Refusal() }
        if request.path == "/refuse-late" {
            try await writer.writeHead(HTTPResponse(status: .ok))
            try await writer.writeBody(ByteBuffer(string: "partial"))
            throw Refusal()
        }
        try await writer.write(HTTPResponse(status: .ok), body: ByteBuffer(string: "hello"))
    }

    /// Routes whose body disagrees with the `Content-Length` they set: declared value, body, one `write` or not.
    private static let mismatched: [String: (String, String, Bool)] = [
        "/too-long": ("5", "hello world", false), "/too-long-whole": ("5", "hello world", true),
        "/too-short": ("10", "hello", false), "/too-short-whole": ("10", "hello", true),
        "/bad-length": ("five", "hello", true),
    ]

    func waitUntilSlowRequestStarted() -> Bool { poll { self.state.withLockedValue { $0.slowStarted } } }
    func releaseSlowRequest() { release.finish() }
    func waitForLateWriteOutcome() -> String? {
        _ = poll { self.state.withLockedValue { $0.lateWrite != nil } }
        return state.withLockedValue { $0.lateWrite }
    }
}

/// Weak references to every connection handler the server made, and whether each one's channel has closed.
private final class HandlerTracker: @unchecked Sendable {  // its list is only touched under its lock
    private struct Entry {
        weak var handler: AppConnectionHandler?
        let channel: any Channel
    }
    private let lock = NIOLock()
    private var entries: [Entry] = []

    func track(_ handler: AppConnectionHandler, on channel: any Channel) {
        lock.withLock { entries.append(Entry(handler: handler, channel: channel)) }
    }

    var made: Int { lock.withLock { entries.count } }
    var alive: Int { lock.withLock { entries.filter { $0.handler != nil }.count } }

    func waitUntilAllFreed() -> Bool { poll { self.alive == 0 } }
    func waitUntilAllClosed() -> Bool {
        poll { self.lock.withLock { self.entries.allSatisfy { !$0.channel.isActive } } }
    }
}

/// A worker's connection handling on one event loop and an ephemeral loopback port.
private final class TrackedServer: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let app = TestApp()
    let tracker = HandlerTracker()
    let port: Int
    private let listener: any Channel

    init() throws {
        let accessLog = try AccessLogSink(destination: .off)
        let worker = WorkerContext(
            app: app, forwarded: ForwardedPolicy([]), keepalive: .seconds(30), logger: Logger(label: "test"),
            board: nil, requests: RequestCounter(limit: nil) {},
            limits: .init(maxURILength: 8190, maxHeaderSize: 65536, maxHeaderCount: 100),
            accessLogs: try PerLoop(group: group) { AccessLogBuffer(sink: accessLog, format: .combined) })
        let tracker = tracker
        listener = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = AppConnectionHandler(worker: worker)
                    tracker.track(handler, on: channel)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = listener.localAddress!.port!
    }

    func stop() {
        try? listener.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Polls `condition` until it holds or five seconds pass.
private func poll(_ condition: () -> Bool) -> Bool {
    eventually(within: 5, pollingEvery: 0.002, condition)
}
