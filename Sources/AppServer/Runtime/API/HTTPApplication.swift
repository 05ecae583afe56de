import HTTPTypes
import NIOCore

/// What a user writes to run under AppServer: one async handler per request, on swift-http-types.
///
/// The request body arrives as an async sequence of buffers and the response body is written as it is produced,
/// so uploads and downloads of any size stream through a worker without being held in memory.
public protocol HTTPApplication: Sendable {
    /// Called once in each worker before it accepts connections. Throwing here is an app load failure: the worker
    /// exits with its own code and the master stops (or, during a reload, keeps the old workers).
    func boot(settings: AppSettings) async throws

    /// Answers one request by writing a response head and body to `writer`.
    func handle(_ request: AppRequest, writer: some ResponseWriter) async throws

    /// Called once in each worker on a graceful stop, after its last request: close pools, flush buffers.
    func shutdown() async

    /// Runs one of the app's own commands (`appserver --config FILE --run NAME`) with the settings under `app:`, in
    /// place of serving: loading data, migrating a schema. Throwing ends the command with exit code 1.
    func run(command: String, settings: AppSettings) async throws
}

extension HTTPApplication {
    public func boot(settings: AppSettings) async throws {}
    public func shutdown() async {}

    public func run(command: String, settings: AppSettings) async throws {
        throw UnknownCommand(name: command)
    }
}

/// `--run NAME` named a command the app does not have.
public struct UnknownCommand: Error, CustomStringConvertible {
    public var name: String
    public var description: String { "this app has no command '\(name)'" }

    public init(name: String) {
        self.name = name
    }
}

/// One request as the app sees it.
public struct AppRequest: Sendable {
    /// Method, path, authority and header fields. `X-Forwarded-*` fields are present only when the peer is trusted.
    ///
    /// Built from the parsed request the first time it is read, so an app that routes on `method` and `path`
    /// alone never pays for turning every header line into an `HTTPField`.
    public var head: HTTPRequest {
        get { lazyHead.head }
        set { lazyHead = AppRequestHead(newValue) }
    }
    /// `head.method`, without building `head`.
    public var method: HTTPRequest.Method { lazyHead.method }
    /// `head.path` (the request target, query included), without building `head`.
    public var path: String? { lazyHead.path }
    /// The client's address: the peer's, or the forwarded one when the peer is in `forwarded_allow`.
    public var clientAddress: String
    /// `http` or `https` as seen by the client.
    public var scheme: String
    /// The request body, in the pieces it arrives in.
    public var body: RequestBody
    /// The id Edge gave the request (`X-Request-ID`), which both access logs and AppServer's error lines about the
    /// request name: an app that logs it joins its lines to theirs.
    public var requestID: String? { head.headerFields[AppRequest.requestIDField] }
    /// The W3C trace id of the request's `traceparent` (which Edge passes on, or starts), when it has a valid one.
    public var traceID: String? {
        head.headerFields[AppRequest.traceParentField].flatMap(TraceParent.traceID(of:))
    }

    private static let requestIDField = HTTPField.Name("X-Request-ID")!
    private static let traceParentField = HTTPField.Name("traceparent")!

    private var lazyHead: AppRequestHead

    public init(head: HTTPRequest, clientAddress: String, scheme: String, body: RequestBody) {
        self.init(lazyHead: AppRequestHead(head), clientAddress: clientAddress, scheme: scheme, body: body)
    }

    init(lazyHead: AppRequestHead, clientAddress: String, scheme: String, body: RequestBody) {
        self.lazyHead = lazyHead
        self.clientAddress = clientAddress
        self.scheme = scheme
        self.body = body
    }
}

/// Where an app writes its response: the head once, then body pieces, then the end.
public protocol ResponseWriter: Sendable {
    /// Sends the status and header fields. Without `Content-Length` the body is sent chunked.
    func writeHead(_ head: HTTPResponse) async throws
    /// Sends one piece of the body; waits while the client is not keeping up.
    func writeBody(_ buffer: ByteBuffer) async throws
    /// Ends the response.
    func finish() async throws
    /// A whole response at once (the common case, in one hop).
    func write(_ head: HTTPResponse, body: ByteBuffer) async throws
}

extension ResponseWriter {
    public func write(_ head: HTTPResponse, body: ByteBuffer) async throws {
        var head = head
        head.headerFields[.contentLength] = String(body.readableBytes)
        try await writeHead(head)
        try await writeBody(body)
        try await finish()
    }
}
