import AppServer
import HTTPTypes
import NIOCore
import Synchronization

/// A `ResponseWriter` that keeps what the app writes, checking the order a worker enforces (head, body, end).
final class CollectingResponseWriter: ResponseWriter {
    /// Something the app did that a worker would not send as it is.
    struct Misuse: Error, CustomStringConvertible {
        var description: String
    }

    private struct Written {
        var head: HTTPResponse?
        var body = ByteBuffer()
        var finished = false
    }

    private let written = Mutex(Written())

    var headWritten: Bool { written.withLock { $0.head != nil } }

    func writeHead(_ head: HTTPResponse) async throws {
        try written.withLock { written in
            guard written.head == nil else { throw Misuse(description: "the response head was written twice") }
            written.head = head
        }
    }

    func writeBody(_ buffer: ByteBuffer) async throws {
        try written.withLock { written in
            guard written.head != nil else { throw Misuse(description: "body written before the response head") }
            guard !written.finished else { throw Misuse(description: "body written after finish()") }
            var buffer = buffer
            written.body.writeBuffer(&buffer)
        }
    }

    func finish() async throws {
        try written.withLock { written in
            guard written.head != nil else { throw Misuse(description: "finish() before the response head") }
            written.finished = true
        }
    }

    /// The response as the worker would have sent it: finished if left open, 500 if no head was written.
    func response() throws -> TestResponse {
        try written.withLock { written in
            guard var head = written.head else {
                return TestResponse(head: HTTPResponse(status: .internalServerError), body: ByteBuffer())
            }
            if let declared = head.headerFields[.contentLength], Int(declared) != written.body.readableBytes {
                throw Misuse(
                    description: "Content-Length \(declared) but \(written.body.readableBytes) body bytes written")
            }
            if head.headerFields[.contentLength] == nil {
                head.headerFields[.contentLength] = String(written.body.readableBytes)
            }
            return TestResponse(head: head, body: written.body)
        }
    }
}
