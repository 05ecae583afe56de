import NIOCore
import Testing

@testable import Shared

/// RFC 9110/9112 rules a server MUST enforce on a request head, one row each: the `Host` field, transfer codings
/// and the chunk-extension grammar. (The same rows run against both binaries in `ConformanceTable`.)
@Suite struct HTTP1ConformanceTests {
    let limits = HTTP1RequestParser.Limits(maxURILength: 1024, maxHeaderSize: 4096)
    static let post = "POST / HTTP/1.1\r\nHost: a\r\n"
    static let chunked = post + "Transfer-Encoding: chunked\r\n\r\n"

    /// The error the first request of `text` gets, `nil` when it parses through its end.
    func error(_ text: String) -> HTTP1ParseError? {
        var parser = HTTP1RequestParser(limits: limits)
        parser.append(ByteBuffer(string: text))
        do {
            while let event = try parser.next() {
                if case .end = event { return nil }
            }
            Issue.record("incomplete request: \(text.debugDescription)")
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1; one at most in HTTP/1.0.
        ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 request without Host"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "more than one Host header"),
        ("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", "more than one Host header"),
        // RFC 9110 §7.2 and RFC 3986 §3.2.2: uri-host [":" port].
        ("GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n", "invalid Host"),
        ("GET / HTTP/1.1\r\nHost: example.com/x\r\n\r\n", "invalid Host"),
        ("GET / HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n", "invalid Host"),
        ("GET / HTTP/1.1\r\nHost: a.example,b.example\r\n\r\n", "invalid Host"),
        ("GET / HTTP/1.1\r\nHost:\r\n\r\n", "invalid Host"),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "invalid Host"),
        ("GET / HTTP/1.1\r\nHost: example.com:80a\r\n\r\n", "invalid Host"),
        ("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", "invalid Host"),
        ("GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", "invalid Host"),
        ("GET http://a b/ HTTP/1.1\r\nHost: a\r\n\r\n", "invalid character in request target"),
        ("GET http://a,b/ HTTP/1.1\r\nHost: a\r\n\r\n", "invalid host in the request target"),
        // RFC 9112 §6.3: chunked must be the last coding, and applied once.
        (post + "Transfer-Encoding: chunked, gzip\r\n\r\n", "Transfer-Encoding does not end in chunked"),
        (
            post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
            "Transfer-Encoding does not end in chunked"
        ),
        (post + "Transfer-Encoding: chunked, chunked\r\n\r\n", "chunked applied twice"),
        (post + "Transfer-Encoding: xchunked\r\n\r\n", "Transfer-Encoding does not end in chunked"),
        // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ).
        (chunked + "5;\r\nhello\r\n0\r\n\r\n", "invalid chunk extension name"),
        (chunked + "5;=v\r\nhello\r\n0\r\n\r\n", "invalid chunk extension name"),
        (chunked + "5;a@b\r\nhello\r\n0\r\n\r\n", "invalid chunk extension"),
        (chunked + "5;a=\r\nhello\r\n0\r\n\r\n", "invalid chunk extension value"),
        (chunked + "5 \r\nhello\r\n0\r\n\r\n", "invalid chunk extension"),
        (chunked + "5;a\u{1}\r\nhello\r\n0\r\n\r\n", "invalid chunk extension"),
        (chunked + "5;a=b\rc\r\nhello\r\n0\r\n\r\n", "invalid chunk extension"),
        (chunked + "5;a=\"open\r\nhello\r\n0\r\n\r\n", "unterminated quoted chunk extension value"),
    ])
    func refusedWith400(request: String, reason: String) {
        #expect(error(request) == .malformed(reason))
        #expect(error(request)?.status == .badRequest)
    }

    @Test(arguments: [
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n\r\n",
        // The target's authority is the host; Host is ignored (RFC 9112 §3.2.2), not compared.
        "GET http://example.com/ HTTP/1.1\r\nHost: other.example\r\n\r\n",
        chunked + "5;a=b;c ; d = \"q \\\" x\"\r\nhello\r\n0\r\n\r\n",
        post + "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
    ])
    func accepted(request: String) {
        #expect(error(request) == nil)
    }

    @Test func anUnknownCodingBeforeChunkedIsNotImplemented() {
        let request = Self.post + "Transfer-Encoding: gzip, chunked\r\n\r\n"
        #expect(error(request) == .unsupportedTransferEncoding("gzip, chunked"))
        #expect(error(request)?.status.code == 501)
    }
}

/// The byte masks `HostValidation` checks with are the characters its comments name.
@Suite struct HostValidationTests {
    func mask(_ characters: String) -> (UInt64, UInt64) {
        var (low, high): (UInt64, UInt64) = (0, 0)
        for byte in characters.utf8 {
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }
        return (low, high)
    }

    @Test func masksMatchTheirCharacters() {
        let letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        let name = mask(letters + "0123456789-._~%!$&'()*+;=")
        #expect(name == (HostValidation.registeredNameBytes.low, HostValidation.registeredNameBytes.high))
        let literal = mask("0123456789abcdefABCDEF:.")
        #expect(literal == (HostValidation.ipLiteralBytes.low, HostValidation.ipLiteralBytes.high))
        for byte in UInt8(0)...UInt8(255) {
            let expected = byte < 128 && (letters + "0123456789-._~%!$&'()*+;=").utf8.contains(byte)
            #expect(HostValidation.isIn(byte, HostValidation.registeredNameBytes) == expected)
        }
    }
}
