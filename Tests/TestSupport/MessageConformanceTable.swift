/// Requests a server must refuse (RFC 9110/9112) or that smuggle a second request past a parser that reads their
/// framing differently, one row each; run against Edge (in front of an upstream) and straight at AppServer. Each is
/// followed on its connection by a well-formed request for `/smuggled`, which must never be answered or forwarded.
public enum MessageConformanceTable {
    public struct Row: Sendable, CustomStringConvertible {
        public let name: String
        /// `{path}` stands for a path unique to the row.
        public let request: String
        public let status: Int
        /// Refused on its head, before any body byte: nothing of it may reach an upstream.
        public let refusedAtHead: Bool

        public var description: String { name }

        public func request(path: String) -> String {
            request.replacingOccurrences(of: "{path}", with: path)
        }
    }

    public static let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

    static func head(_ name: String, _ request: String, _ status: Int = 400) -> Row {
        Row(name: name, request: request, status: status, refusedAtHead: true)
    }

    static func body(_ name: String, _ request: String) -> Row {
        Row(name: name, request: request, status: 400, refusedAtHead: false)
    }

    static let post = "POST {path} HTTP/1.1\r\nHost: x\r\n"
    static let chunked = post + "Transfer-Encoding: chunked\r\n\r\n"

    public static let rows: [Row] = [
        // Content-Length against Transfer-Encoding (RFC 9112 §6.1, §6.3).
        head("CL.TE", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"),
        head("TE.CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"),
        head("TE.TE: unknown coding", post + "Transfer-Encoding: xchunked\r\n\r\n"),
        head("TE.TE: second field", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n"),
        head("TE.TE: space before the colon", post + "Transfer-Encoding : chunked\r\n\r\n"),
        head("TE.TE: vertical tab", post + "Transfer-Encoding:\u{0B}chunked\r\n\r\n"),
        head("TE.TE: folded", post + "Transfer-Encoding:\r\n chunked\r\n\r\n"),
        head("TE.TE: chunked not last", post + "Transfer-Encoding: chunked, gzip\r\n\r\n"),
        head("TE.TE: chunked twice", post + "Transfer-Encoding: chunked, chunked\r\n\r\n"),
        head("TE: unknown coding before chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
        head("TE in HTTP/1.0", "POST {path} HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        // Content-Length forms (RFC 9110 §8.6).
        head("CL: two values", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        head("CL: comma list", post + "Content-Length: 4, 4\r\n\r\nabcd"),
        head("CL: sign", post + "Content-Length: +4\r\n\r\nabcd"),
        head("CL: hex", post + "Content-Length: 0x4\r\n\r\nabcd"),
        // Chunk framing (RFC 9112 §7.1).
        body("chunk size overflow", chunked + "FFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n"),
        body("chunk size with 0x", chunked + "0x4\r\nabcd\r\n0\r\n\r\n"),
        body("chunk size negative", chunked + "-4\r\nabcd\r\n0\r\n\r\n"),
        body("chunk extension: bare semicolon", chunked + "4;\r\nabcd\r\n0\r\n\r\n"),
        body("chunk extension: not a token", chunked + "4;a@b\r\nabcd\r\n0\r\n\r\n"),
        body("chunk extension: whitespace after the size", chunked + "4 \r\nabcd\r\n0\r\n\r\n"),
        body("chunk extension: control character", chunked + "4;a\u{01}\r\nabcd\r\n0\r\n\r\n"),
        body("chunk extension: bare CR", chunked + "4;a=b\rc\r\nabcd\r\n0\r\n\r\n"),
        body("chunk data longer than its size", chunked + "2\r\nabcd\r\n0\r\n\r\n"),
        // Field syntax (RFC 9112 §5, RFC 9110 §5.5).
        head("obs-fold", "GET {path} HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n"),
        head("bare CR in a field value", "GET {path} HTTP/1.1\r\nHost: x\r\nX-A: 1\rX-B: 2\r\n\r\n"),
        head("NUL in a field value", "GET {path} HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n"),
        head("bare CR ending the request line", "GET {path} HTTP/1.1\rHost: x\r\n\r\n"),
        head("two spaces in the request line", "GET  {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
        // Host (RFC 9112 §3.2, RFC 9110 §7.2).
        head("Host missing in HTTP/1.1", "GET {path} HTTP/1.1\r\n\r\n"),
        head("Host twice", "GET {path} HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
        head("Host with user information", "GET {path} HTTP/1.1\r\nHost: user@example.com\r\n\r\n"),
        head("Host with a path", "GET {path} HTTP/1.1\r\nHost: example.com/x\r\n\r\n"),
        head("Host with two names", "GET {path} HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n"),
        head("Host empty", "GET {path} HTTP/1.1\r\nHost:\r\n\r\n"),
        head("absolute form with user information", "GET http://user@x{path} HTTP/1.1\r\nHost: x\r\n\r\n"),
    ]
}
