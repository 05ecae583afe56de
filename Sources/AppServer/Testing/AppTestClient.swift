import AppServer
import HTTPTypes
import NIOCore

/// Runs an app in process, as a worker would call it, but without sockets or processes: a test sends a request and
/// reads the response the client would get.
///
/// ```swift
/// let client = try await AppTestClient.booted(MyApp(), settings: ["greeting": .string("hi")])
/// let response = try await client.execute(.get, "/hello")
/// #expect(response.status == .ok && response.bodyText == "hi")
/// ```
///
/// As in a worker: an `HTTPResponseError` thrown before the response began becomes its status with the message as a
/// plain-text body; a response left open is finished; an app that wrote no head gets a 500. Any other error the
/// handler throws is rethrown to the test, which then sees why rather than a bare 500.
public struct AppTestClient<App: HTTPApplication>: Sendable {
    public let app: App

    /// A client for `app` as it is, without calling its `boot(settings:)`.
    public init(app: App) {
        self.app = app
    }

    /// Boots `app` as each worker does before it serves, with `settings` as the config file's `app:` mapping (relative
    /// paths resolve against `configDirectory`), and returns a client for it.
    public static func booted(
        _ app: App, settings values: [String: ConfigValue] = [:], configDirectory: String = ".", generation: Int = 1
    ) async throws -> AppTestClient {
        try await app.boot(
            settings: AppSettings(values: values, configDirectory: configDirectory, generation: generation))
        return AppTestClient(app: app)
    }

    /// Sends one request and returns the whole response.
    public func execute(
        _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: ByteBuffer? = nil,
        clientAddress: String = "127.0.0.1", scheme: String = "http"
    ) async throws -> TestResponse {
        var head = HTTPRequest(method: method, scheme: scheme, authority: "localhost", path: path)
        head.headerFields = headers
        if let body, head.headerFields[.contentLength] == nil {
            head.headerFields[.contentLength] = String(body.readableBytes)
        }
        return try await execute(head, body: body, clientAddress: clientAddress)
    }

    /// Sends one request, given as a whole `HTTPRequest`, and returns the whole response.
    public func execute(
        _ head: HTTPRequest, body: ByteBuffer? = nil, clientAddress: String = "127.0.0.1"
    ) async throws -> TestResponse {
        let request = AppRequest(
            head: head, clientAddress: clientAddress, scheme: head.scheme ?? "http",
            body: body.map(RequestBody.buffered) ?? .empty)
        let writer = CollectingResponseWriter()
        do {
            try await app.handle(request, writer: writer)
        } catch let error as HTTPResponseError {
            guard !writer.headWritten else { throw error }
            var response = HTTPResponse(status: error.status)
            response.headerFields[.contentType] = "text/plain; charset=utf-8"
            return TestResponse(head: response, body: ByteBuffer(string: error.message + "\n"))
        }
        return try writer.response()
    }
}

/// A response as the client would read it.
public struct TestResponse: Sendable {
    public var head: HTTPResponse
    public var body: ByteBuffer

    public init(head: HTTPResponse, body: ByteBuffer) {
        self.head = head
        self.body = body
    }

    public var status: HTTPResponse.Status { head.status }
    public var headerFields: HTTPFields { head.headerFields }
    /// The body as UTF-8 text.
    public var bodyText: String { String(buffer: body) }
}
