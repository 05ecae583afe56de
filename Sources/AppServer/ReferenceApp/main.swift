import AppServer
import HTTPTypes
import NIOCore

/// The reference app, built exactly as a user's app would be: one `HTTPApplication`, one call in `main`.
struct ReferenceApp: HTTPApplication {
    func handle(_ request: AppRequest, writer: some ResponseWriter) async throws {
        var head = HTTPResponse(status: .ok)
        head.headerFields[.contentType] = "text/plain"
        try await writer.writeHead(head)
        try await writer.writeBody(ByteBuffer(string: "Hello, World!"))
        try await writer.finish()
    }
}

await AppServer.main(app: ReferenceApp())
