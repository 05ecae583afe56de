import AppServer
import HTTPTypes
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// AppServer's module runs nonisolated async code on its caller's executor (Swift's `NonisolatedNonsendingByDefault`,
/// which saves the worker an executor check per `await`). An app and a writer written in a module with the default
/// rules, as a user's own package is, must still conform and run.
private struct DefaultModeApp: HTTPApplication {
    func handle(_ request: AppRequest, writer: some ResponseWriter) async throws {
        var response = HTTPResponse(status: .ok)
        response.headerFields[.contentType] = "text/plain"
        try await writer.writeHead(response)
        try await writer.writeBody(ByteBuffer(string: "hello "))
        try await writer.writeBody(ByteBuffer(string: request.head.path ?? ""))
        try await writer.finish()
    }
}

private final class RecordingWriter: ResponseWriter {
    let log = NIOLockedValueBox<[String]>([])
    func writeHead(_ head: HTTPResponse) async throws { log.withLockedValue { $0.append("head \(head.status.code)") } }
    func writeBody(_ buffer: ByteBuffer) async throws { log.withLockedValue { $0.append(String(buffer: buffer)) } }
    func finish() async throws { log.withLockedValue { $0.append("end") } }
}

@Suite struct ThirdPartyAppConformanceTests {
    @Test func anAppAndAWriterFromADefaultModeModuleConformAndRun() async throws {
        let app: any HTTPApplication = DefaultModeApp()
        let writer = RecordingWriter()
        let request = AppRequest(
            head: HTTPRequest(method: .get, scheme: "http", authority: "x", path: "/there"), clientAddress: "127.0.0.1",
            scheme: "http", body: .empty)
        try await app.handle(request, writer: writer)
        #expect(writer.log.withLockedValue { $0 } == ["head 200", "hello ", "/there", "end"])
    }
}
