import NIOCore
import Shared

/// A response decided by a responder, ready for the connection to encode.
///
/// `head` holds the status line and all header lines except `Date` and `Connection`, which depend on the moment
/// and the connection and are appended by the writer.
public struct Response {
    /// Status, for the access log and for deciding whether a body is allowed.
    public var status: HTTPStatus
    /// Status line plus header lines, each ending in CRLF, without the blank line that ends the head.
    public var head: ByteBuffer { didSet { wholeFile = nil } }
    /// What follows the head.
    public var body: ResponseBody { didSet { wholeFile = nil } }
    /// Set when this is exactly `file`'s full 200 response with its contents from memory, so the writer may send
    /// the file's ready-made bytes (`CachedFile.wholeResponse`). Any change to `head` or `body` (the compression
    /// filter's, say) clears it, so a changed response is never replaced by the file's.
    public private(set) var wholeFile: CachedFile?
    /// Whether the connection must close after this response (bad requests and the like).
    public var closesConnection = false
    /// The index of the route that answered, for the metrics; -1 when the request was not routed (a refusal, a
    /// redirect), and the metrics route its target themselves.
    var routeIndex = -1
    /// For the compression filter, set on responses about a file: its media type and full length. `nil` for Edge's
    /// own short responses and for bodies already encoded.
    public var representation: (mediaType: String, length: Int)?
    /// Set by the compression filter on a file too large to gzip in one go: the file is read, gzipped and sent
    /// piece by piece as the client takes it, through this stream.
    var bodyEncoder: GzipEncoder?
    /// One of Edge's own short answers (`simple`), which an `error_pages` entry may replace (`withErrorPage`). A
    /// flag, not the answer's fields: every response is copied several times on its way, and a stored array would
    /// add a retain and a release to each copy (0.4 % of a cached file's instructions, measured).
    private(set) var isSimple = false

    /// A response with a ready head.
    public init(status: HTTPStatus, head: ByteBuffer, body: ResponseBody, closesConnection: Bool = false) {
        self.status = status
        self.head = head
        self.body = body
        self.closesConnection = closesConnection
    }

    /// `file`'s full 200 response with its contents from memory.
    public static func whole(_ file: CachedFile, contents: ByteBuffer) -> Response {
        var response = Response(status: .ok, head: file.fullResponseHead, body: .memory(contents))
        response.wholeFile = file
        return response
    }

    /// A short plain-text error or redirect response: `404 Not Found\n`.
    public static func simple(
        _ status: HTTPStatus, headers: [(name: String, value: String)] = [], closesConnection: Bool = false,
        omitBody: Bool = false
    ) -> Response {
        var response = simple(
            status, body: ByteBuffer(string: "\(status.code) \(status.reason)\n"),
            contentType: "text/plain; charset=utf-8", headers: headers, closesConnection: closesConnection,
            omitBody: omitBody)
        response.isSimple = true
        return response
    }

    /// This answer with `page` as its body (an `error_pages` entry): its status and its own fields (`Allow`,
    /// `Location`, `X-Request-ID`) kept from the head, `Content-Type` and `Content-Length` the page's. Unchanged when
    /// it is not one of Edge's own short answers.
    func withErrorPage(_ page: ErrorPages.Page) -> Response {
        guard isSimple else { return self }
        var fields: [(name: String, value: String)] = []
        let lines = String(buffer: head).split(separator: "\r\n").dropFirst()  // the status line
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon]
            guard name != "Server", name != "Content-Type", name != "Content-Length" else { continue }
            fields.append((String(name), String(line[line.index(after: colon)...].drop { $0 == " " })))
        }
        var omitBody = false
        if case .none = body { omitBody = true }
        return Self.simple(
            status, body: page.body, contentType: page.contentType, headers: fields,
            closesConnection: closesConnection, omitBody: omitBody)
    }

    private static func simple(
        _ status: HTTPStatus, body text: ByteBuffer, contentType: String, headers: [(name: String, value: String)],
        closesConnection: Bool, omitBody: Bool
    ) -> Response {
        var head = ByteBuffer()
        head.reserveCapacity(160)
        ResponseHeaders.writeStatusLine(status, into: &head)
        head.writeStaticString("Server: edge\r\n")
        ResponseHeaders.write("Content-Type", contentType, into: &head)
        ResponseHeaders.write("Content-Length", String(text.readableBytes), into: &head)
        for (name, value) in headers {
            head.writeString(name)
            head.writeStaticString(": ")
            head.writeString(value)
            head.writeStaticString("\r\n")
        }
        let body: ResponseBody = omitBody ? .none(length: text.readableBytes) : .memory(text)
        return Response(status: status, head: head, body: body, closesConnection: closesConnection)
    }
}

/// The bytes that follow a response head.
public enum ResponseBody {
    /// No body; `length` is what a GET would have sent (HEAD, 304), for the log it counts as 0.
    case none(length: Int)
    /// A body already in memory.
    case memory(ByteBuffer)
    /// `length` bytes of the file at `path` from `offset`, sent with `sendfile`; `identity` guards against the file
    /// having changed between the lookup and the open.
    case file(path: String, identity: FileIdentity, offset: Int, length: Int)

    /// Bytes this body puts on the wire.
    public var byteCount: Int {
        switch self {
        case .none: 0
        case .memory(let buffer): buffer.readableBytes
        case .file(_, _, _, let length): length
        }
    }
}
