import AppServer
import Foundation
import HTTPTypes
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Routes that misbehave on purpose, for AppServer's own tests; served only with `app.test_routes: true`.
enum TestRoutes {
    struct TestRouteFailure: Error, CustomStringConvertible {
        var description: String { "the test route failed on purpose" }
    }

    static func respond(
        to request: AppRequest, route: String, workerLoops: (any EventLoopGroup)?, writer: some ResponseWriter
    ) async throws {
        let milliseconds = Int(request.query["ms"] ?? "") ?? 0
        switch route {
        case "/__test/sleep":
            try await Task.sleep(for: .milliseconds(milliseconds))
            try await writer.write(.text("text/plain"), body: ByteBuffer(string: "slept \(milliseconds)ms\n"))
        case "/__test/block":
            // Blocks the thread (and so this worker's event loop tick, in a one-thread worker): heartbeat tests.
            usleep(useconds_t(milliseconds * 1000))
            try await writer.write(.text("text/plain"), body: ByteBuffer(string: "blocked \(milliseconds)ms\n"))
        case "/__test/crash":
            let values: [Int] = []
            _ = values[Int(getpid()) % 1 + 1]  // out of bounds: a Swift trap kills this worker only
        case "/__test/stream":
            // Server-sent events, one every `ms`: proxies must pass each on as it comes.
            var head = HTTPResponse.text("text/event-stream")
            head.headerFields[.cacheControl] = "no-cache"
            try await writer.writeHead(head)
            let count = Int(request.query["n"] ?? "") ?? 3
            for index in 0..<count {
                try await writer.writeBody(ByteBuffer(string: "data: \(index)\n\n"))
                try await Task.sleep(for: .milliseconds(milliseconds))
            }
            try await writer.finish()
        case "/__test/throw":
            // The app fails before answering: AppServer answers 500 and logs the failure.
            throw TestRouteFailure()
        case "/__test/loop":
            // Whether the handler runs on one of the loops `AppSettings.eventLoopGroup` gave the app at boot.
            let current = MultiThreadedEventLoopGroup.currentEventLoop
            let onWorkerLoop = current.map { current in workerLoops?.makeIterator().contains { $0 === current } ?? false
            }
            try await writer.write(
                .text("text/plain"), body: ByteBuffer(string: onWorkerLoop == true ? "worker loop" : "elsewhere"))
        case "/__test/pid":
            try await writer.write(.text("text/plain"), body: ByteBuffer(string: "\(getpid())"))
        default:
            var response = HTTPResponse.text("text/plain")
            response.status = .notFound
            try await writer.write(response, body: ByteBuffer(string: "404 Not Found\n"))
        }
    }
}
