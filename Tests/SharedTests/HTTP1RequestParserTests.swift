import NIOCore
import NIOHTTP1
import Testing

@testable import Shared

@Suite struct HTTP1RequestParserTests {
    enum Seen: Equatable {
        case head(method: String, target: String, minor: Int, keepAlive: Bool)
        case body(String)
        case end
    }

    let limits = HTTP1RequestParser.Limits(maxURILength: 64, maxHeaderSize: 256)

    /// Feeds `chunks` one after another and collects events (body pieces merged), or the error.
    private func parse(_ chunks: [String]) -> (events: [Seen], error: HTTP1ParseError?) {
        var parser = HTTP1RequestParser(limits: limits)
        var events: [Seen] = []
        for chunk in chunks {
            parser.append(ByteBuffer(string: chunk))
            do {
                while let event = try parser.next() {
                    switch event {
                    case .head(let head):
                        events.append(
                            .head(
                                method: head.method.rawValue, target: head.target, minor: head.minorVersion,
                                keepAlive: head.keepAlive))
                    case .body(let bytes):
                        if case .body(let previous) = events.last {
                            events[events.count - 1] = .body(previous + String(buffer: bytes))
                        } else {
                            events.append(.body(String(buffer: bytes)))
                        }
                    case .end:
                        events.append(.end)
                    }
                }
            } catch {
                return (events, error)
            }
        }
        return (events, nil)
    }

    private func parse(_ text: String) -> (events: [Seen], error: HTTP1ParseError?) { parse([text]) }

    /// The same text fed one byte at a time must give the same result.
    private func parseBytewise(_ text: String) -> (events: [Seen], error: HTTP1ParseError?) {
        parse(text.utf8.map { String(decoding: [$0], as: UTF8.self) })
    }

    @Test func simpleGet() {
        let result = parse("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n")
        #expect(result.error == nil)
        #expect(result.events == [.head(method: "GET", target: "/a?b=1", minor: 1, keepAlive: true), .end])
    }

    @Test(arguments: [
        ("http://example.com:8080/a/b?c=1", "/a/b?c=1", "example.com:8080"),
        ("HTTPS://Example.com", "/", "Example.com"),
        ("http://h?q", "/?q", "h"),
        ("http://[::1]:80/x", "/x", "[::1]:80"),
    ])
    func absoluteFormTargetsBecomeOriginFormWithTheirHost(sent: String, target: String, authority: String) throws {
        var parser = HTTP1RequestParser(limits: limits)
        parser.append(ByteBuffer(string: "GET \(sent) HTTP/1.1\r\nHost: ignored\r\n\r\n"))
        guard case .head(let head) = try parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.target == target)
        #expect(head.absoluteFormAuthority == authority)
        #expect(head.host == authority)  // RFC 9112 §3.2.2: the target's host, not the Host field
    }

    @Test func otherTargetsAreLeftAsSent() throws {
        for (sent, host) in [("/plain", "x"), ("*", "x"), ("ftp://h/f", "x")] {
            var parser = HTTP1RequestParser(limits: limits)
            parser.append(ByteBuffer(string: "OPTIONS \(sent) HTTP/1.1\r\nHost: x\r\n\r\n"))
            guard case .head(let head) = try parser.next() else { continue }
            #expect(head.target == sent)
            #expect(head.absoluteFormAuthority == nil)
            #expect(head.host == host)
        }
        #expect(
            parse("GET http://user:pw@h/ HTTP/1.1\r\nHost: x\r\n\r\n").error
                == .malformed("user information in the request target"))
        #expect(
            parse("GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n").error == .malformed("absolute-form request target without a host"))
    }

    @Test func headerFieldsKeepNamesAndTrimmedValues() throws {
        var parser = HTTP1RequestParser(limits: limits)
        parser.append(ByteBuffer(string: "GET / HTTP/1.1\r\nHost:  example.test \r\nX-Multi: a\r\nx-multi: b\r\n\r\n"))
        guard case .head(let head) = try parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.headers.first("host") == "example.test")
        #expect(head.headers.all("x-multi") == ["a", "b"])
        #expect(head.headers.count == 3)
    }

    @Test func keepAliveFollowsVersionAndConnection() {
        #expect(
            parse("GET / HTTP/1.0\r\n\r\n").events.first
                == .head(method: "GET", target: "/", minor: 0, keepAlive: false))
        #expect(
            parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").events.first
                == .head(method: "GET", target: "/", minor: 0, keepAlive: true))
        #expect(
            parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n").events.first
                == .head(method: "GET", target: "/", minor: 1, keepAlive: false))
    }

    @Test func pipelinedRequestsAtAnySplit() {
        let text =
            "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloHEAD /3 HTTP/1.1\r\nHost: x\r\n\r\n"
        let expected: [Seen] = [
            .head(method: "GET", target: "/1", minor: 1, keepAlive: true), .end,
            .head(method: "POST", target: "/2", minor: 1, keepAlive: true), .body("hello"), .end,
            .head(method: "HEAD", target: "/3", minor: 1, keepAlive: true), .end,
        ]
        #expect(parse(text).events == expected)
        #expect(parseBytewise(text).events == expected)
    }

    @Test func chunkedBodiesWithExtensionsAndTrailers() {
        let text =
            "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        let expected: [Seen] = [
            .head(method: "POST", target: "/u", minor: 1, keepAlive: true), .body("hello, world!!!"), .end,
            .head(method: "GET", target: "/next", minor: 1, keepAlive: true), .end,
        ]
        #expect(parse(text).events == expected)
        #expect(parseBytewise(text).events == expected)
    }

    @Test func bareLineFeedsAndLeadingEmptyLinesAreTolerated() {
        let result = parse("\r\n\nGET / HTTP/1.1\nHost: x\n\n")
        #expect(result.error == nil)
        #expect(result.events == [.head(method: "GET", target: "/", minor: 1, keepAlive: true), .end])
    }

    @Test(arguments: [
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Content-Length and Transfer-Encoding"
        ),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "conflicting Content-Length headers"),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n", "invalid Content-Length"),
        ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 request"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", "obsolete header line folding"),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", "invalid character in header name"),
        ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", "header line without a name and colon"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{1}b\r\n\r\n", "invalid character in header value"),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "invalid method"),
        ("\u{16}\u{3}\u{1}", "invalid method"),
        ("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", "invalid character in request target"),
        ("GET / HTTPS/1.1\r\n\r\n", "invalid HTTP version"),
        ("HELLO\r\n\r\n", "malformed request line"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk data longer than its size"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n", "chunk size too large"),
    ])
    func malformedRequestsAreRefused(text: String, reason: String) {
        #expect(parse(text).error == .malformed(reason))
        #expect(parseBytewise(text).error == .malformed(reason))
    }

    @Test func aRefusedHeadKeepsItsRequestLineForTheLog() {
        func refusedLine(_ chunks: [String]) -> String? {
            var parser = HTTP1RequestParser(limits: limits)
            for chunk in chunks {
                parser.append(ByteBuffer(string: chunk))
                do { while try parser.next() != nil {} } catch { break }
            }
            return parser.refusedRequestLine().map { "\($0.method) \($0.target) \($0.version)" }
        }
        #expect(
            refusedLine(["POST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"])
                == "POST /a?b HTTP/1.1")
        #expect(refusedLine(["GET / HTTP/1.0\r\nBad Header\r\n\r\n"]) == "GET / HTTP/1.0")
        // A second request on the connection: its own line, not the first one's.
        #expect(
            refusedLine(["GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", "GET /bad HTTP/1.1\r\nHost: x\r\nX: \u{1}\r\n\r\n"]) == "GET /bad HTTP/1.1")
        #expect(refusedLine(["HELLO\r\n\r\n"]) == nil)  // nothing sound to show
        // The head was fine.
        #expect(refusedLine(["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]) == nil)
        #expect(refusedLine(["GET / HTTP/1.1\r\nHost: x\r\n\r\n"]) == nil)
    }

    @Test func statusSpecificErrors() {
        #expect(parse("GET / HTTP/2.0\r\n\r\n").error == .versionNotSupported)
        #expect(
            parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").error
                == .unsupportedTransferEncoding("gzip, chunked"))
        #expect(parse("GET /\(String(repeating: "a", count: 70)) HTTP/1.1\r\nHost: x\r\n\r\n").error == .uriTooLong)
        #expect(parse("GET /\(String(repeating: "a", count: 200))").error == .uriTooLong)  // still arriving
        #expect(parse("GET / HTTP/1.1\r\nHost: x\r\nX: \(String(repeating: "b", count: 300))\r\n\r\n").error == .headersTooLarge)
        // Still arriving.
        #expect(parse("GET / HTTP/1.1\r\nHost: x\r\nX: \(String(repeating: "b", count: 400))").error == .headersTooLarge)
    }

    @Test func partialHeadIsReported() throws {
        var parser = HTTP1RequestParser(limits: limits)
        parser.append(ByteBuffer(string: "GET / HT"))
        #expect(try parser.next() == nil)
        #expect(parser.hasPartialHead)
        parser.append(ByteBuffer(string: "TP/1.1\r\nHost: x\r\n\r\n"))
        guard case .head = try parser.next() else {
            Issue.record("no head")
            return
        }
        _ = try parser.next()
        #expect(!parser.hasPartialHead)
    }
}
