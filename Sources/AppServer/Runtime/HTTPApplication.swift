import HTTPTypes
import NIOCore

/// What a user writes to run under AppServer: one async handler per request, on swift-http-types.
///
/// The request body arrives as an async sequence of buffers and the response body is written as it is produced,
/// so uploads and downloads of any size stream through a worker without being held in memory.
public protocol HTTPApplication: Sendable {
    /// Answers one request by writing a response head and body to `writer`.
    func handle(_ request: AppRequest, writer: some ResponseWriter) async throws
}

/// One request as the app sees it.
public struct AppRequest: Sendable {
    /// Method, path, authority and header fields.
    public var head: HTTPRequest
    /// The client's address as established by the server (never taken from an untrusted header).
    public var clientAddress: String
    /// `http` or `https` as seen by the client.
    public var scheme: String
    /// The request body, in the pieces it arrives in.
    public var body: RequestBody

    public init(head: HTTPRequest, clientAddress: String, scheme: String, body: RequestBody) {
        self.head = head
        self.clientAddress = clientAddress
        self.scheme = scheme
        self.body = body
    }
}

/// A request body as an async sequence of buffers.
public struct RequestBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    private let makeStream: @Sendable () -> AsyncThrowingStream<ByteBuffer, any Error>

    /// A body read from `stream`.
    public init(_ stream: @escaping @Sendable () -> AsyncThrowingStream<ByteBuffer, any Error>) {
        self.makeStream = stream
    }

    /// An empty body.
    public static let empty = RequestBody { AsyncThrowingStream { $0.finish() } }

    public func makeAsyncIterator() -> AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator {
        makeStream().makeAsyncIterator()
    }
}

/// Where an app writes its response: the head once, then body pieces, then the end.
public protocol ResponseWriter: Sendable {
    /// Sends the status and header fields.
    func writeHead(_ head: HTTPResponse) async throws
    /// Sends one piece of the body (flushed to the client promptly).
    func writeBody(_ buffer: ByteBuffer) async throws
    /// Ends the response.
    func finish() async throws
}
