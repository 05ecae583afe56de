import HTTPTypes
import NIOCore

/// The `ResponseWriter` apps get: each call hops to the connection's event loop and acts on its own exchange only.
struct ChannelResponseWriter: ResponseWriter {
    let handler: NIOLoopBound<AppConnectionHandler>
    let eventLoop: any EventLoop
    let exchangeID: UInt64

    func writeHead(_ head: HTTPResponse) async throws {
        // App code normally runs on this very event loop (see EventLoopTaskExecutor): no hop needed then.
        if eventLoop.inEventLoop { return try handler.value.writeHead(head, exchange: exchangeID) }
        try await eventLoop.submit { try handler.value.writeHead(head, exchange: exchangeID) }.get()
    }

    func writeBody(_ buffer: ByteBuffer) async throws {
        if eventLoop.inEventLoop { return try await handler.value.writeBody(buffer, exchange: exchangeID).get() }
        try await eventLoop.flatSubmit {
            do { return try handler.value.writeBody(buffer, exchange: exchangeID) } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }.get()
    }

    func finish() async throws {
        if eventLoop.inEventLoop { return try handler.value.finish(exchange: exchangeID) }
        try await eventLoop.submit { try handler.value.finish(exchange: exchangeID) }.get()
    }

    func write(_ head: HTTPResponse, body: ByteBuffer) async throws {
        @Sendable func writeAll() throws {
            // Content-Length is written by the encoder from the body: setting it here would copy the fields.
            try handler.value.writeWhole(head, body: body, exchange: exchangeID)
        }
        if eventLoop.inEventLoop { return try writeAll() }
        try await eventLoop.submit(writeAll).get()
    }

    /// Answers an app's `HTTPResponseError` with its status and message, or cuts the connection if the response
    /// had already begun.
    func refuse(_ error: HTTPResponseError) async {
        @Sendable func answer() {
            let handler = handler.value
            guard !handler.isHeadWritten(exchange: exchangeID) else { return handler.fail(exchange: exchangeID) }
            var response = HTTPResponse(status: error.status)
            response.headerFields[.contentType] = "text/plain; charset=utf-8"
            try? handler.writeWhole(response, body: ByteBuffer(string: error.message + "\n"), exchange: exchangeID)
        }
        if eventLoop.inEventLoop { return answer() }
        try? await eventLoop.submit(answer).get()
    }

    /// Ends a response the app left open; an app that wrote nothing gets a 500.
    func finishIfNeeded() async throws {
        @Sendable func finishLeftOpen() throws {
            let handler = handler.value
            guard !handler.isResponseDone(exchange: exchangeID) else { return }
            if handler.isHeadWritten(exchange: exchangeID) {
                try handler.finish(exchange: exchangeID)
            } else {
                handler.fail(exchange: exchangeID)
            }
        }
        // Runs after every request: on the loop already (the usual case) it must not cost a submitted task.
        if eventLoop.inEventLoop { return try finishLeftOpen() }
        try await eventLoop.submit(finishLeftOpen).get()
    }

    func fail() async {
        if eventLoop.inEventLoop { return handler.value.fail(exchange: exchangeID) }
        try? await eventLoop.submit { handler.value.fail(exchange: exchangeID) }.get()
    }
}
