import Foundation
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Shared
import TestSupport
import Testing

@testable import EdgeCore

@Suite struct ServerNameMatcherTests {
    let matcher = ServerNameMatcher(namesPerCertificate: [
        ["default.test"], ["*.example.test"], ["www.example.test", "Other.test"],
    ])

    @Test func exactBeatsWildcardAndFirstIsDefault() {
        #expect(matcher.certificateIndex(for: "www.example.test") == 2)
        #expect(matcher.certificateIndex(for: "api.example.test") == 1)
        #expect(matcher.certificateIndex(for: "OTHER.test.") == 2)
        #expect(matcher.certificateIndex(for: "unknown.test") == 0)
        #expect(matcher.certificateIndex(for: nil) == 0)
    }

    @Test func wildcardsCoverExactlyOneLabel() {
        #expect(matcher.covers("a.example.test"))
        #expect(!matcher.covers("example.test"))
        #expect(!matcher.covers("a.b.example.test"))
        #expect(!matcher.covers(".example.test"))
    }
}

@Suite struct HTTPSRedirectTests {
    let redirect = HTTPSRedirect(
        names: ServerNameMatcher(namesPerCertificate: [["example.test", "*.example.test"]]), httpsPort: 8443)

    @Test func keepsHostPathAndQuery() {
        #expect(redirect.location(host: "example.test:8080", target: "/a/b?c=d") == "https://example.test:8443/a/b?c=d")
        #expect(redirect.location(host: "WWW.Example.test", target: "/") == "https://www.example.test:8443/")
        let standard = HTTPSRedirect(names: redirect.names, httpsPort: 443)
        #expect(standard.location(host: "example.test", target: "/x") == "https://example.test/x")
    }

    @Test func refusesHostsNoCertificateNames() {
        #expect(redirect.location(host: "evil.test", target: "/") == nil)
        #expect(redirect.location(host: nil, target: "/") == nil)
        #expect(redirect.location(host: "example.test:x", target: "/") == nil)
        #expect(redirect.location(host: "example.test/@evil.test", target: "/") == nil)
        #expect(redirect.location(host: "[::1]:80", target: "/") == nil)
        #expect(redirect.location(host: "example.test", target: "http://evil.test/") == nil)
    }
}

@Suite struct HTTP2RequestTranslationTests {
    func fields(_ pairs: [(String, String)]) -> HPACKHeaders { HPACKHeaders(pairs) }

    @Test func pseudoFieldsBecomeTheRequestLineAndHost() throws {
        let request = try #require(
            HTTP2RequestTranslation.http1Request(
                from: fields([
                    (":method", "GET"), (":scheme", "https"), (":authority", "example.test"), (":path", "/a?b"),
                    ("cookie", "a=1"), ("accept", "*/*"), ("cookie", "b=2"), ("te", "trailers"),
                ]),
                hasBody: false))
        #expect(
            request.text
                == "GET /a?b HTTP/1.1\r\nhost: example.test\r\naccept: */*\r\ncookie: a=1; b=2\r\nconnection: close\r\n\r\n"
        )
        #expect(!request.chunkedBody)
    }

    @Test func aBodyWithoutLengthIsChunked() throws {
        let base: [(String, String)] = [
            (":method", "POST"), (":scheme", "https"), (":authority", "x"), (":path", "/up"),
        ]
        let chunked = try #require(HTTP2RequestTranslation.http1Request(from: fields(base), hasBody: true))
        #expect(chunked.chunkedBody && chunked.text.contains("transfer-encoding: chunked\r\n"))
        let sized = try #require(
            HTTP2RequestTranslation.http1Request(from: fields(base + [("content-length", "5")]), hasBody: true))
        #expect(!sized.chunkedBody && sized.text.contains("content-length: 5\r\n"))
        let head = try #require(
            HTTP2RequestTranslation.http1Request(
                from: fields([(":method", "HEAD"), (":scheme", "https"), (":authority", "x"), (":path", "/")]),
                hasBody: false))
        #expect(head.isHEAD)
    }

    @Test func responseFieldsAreLowerCasedWithoutConnectionSpecificOnes() throws {
        var parser = HTTP1ResponseParser()
        parser.append(
            ByteBuffer(
                string:
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
                    + "Proxy-Connection: x\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\nX-Request-ID: abc\r\n\r\n"))
        guard case .head(let head) = try #require(try parser.next()) else {
            Issue.record("no head")
            return
        }
        let fields = HTTP2RequestTranslation.http2ResponseFields(head)
        #expect(
            fields.map { "\($0.name): \($0.value)" } == [
                ":status: 200", "content-type: text/plain", "x-request-id: abc",
            ])
    }

    /// A request id, new with every response, must not take the place of fields that repeat in HPACK's table (nor
    /// make NIO's encoder look through a table full of them); a cookie never enters it.
    @Test func fieldsNewWithEveryResponseAreNotIndexed() throws {
        var parser = HTTP1ResponseParser()
        parser.append(
            ByteBuffer(
                string:
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-ID: abc\r\nSet-Cookie: s=1\r\n"
                    + "Content-Length: 0\r\n\r\n"))
        guard case .head(let head) = try #require(try parser.next()) else {
            Issue.record("no head")
            return
        }
        let indexing = Dictionary(
            uniqueKeysWithValues: HTTP2RequestTranslation.http2ResponseFields(head).map { ($0.name, $0.indexable) })
        #expect(indexing["content-type"] == .indexable)
        #expect(indexing["x-request-id"] == .nonIndexable)
        #expect(indexing["set-cookie"] == .neverIndexed)
    }

    @Test func malformedRequestsAreRefused() {
        let good: [(String, String)] = [(":method", "GET"), (":scheme", "https"), (":authority", "x"), (":path", "/")]
        #expect(
            HTTP2RequestTranslation.http1Request(from: fields(good + [("x-a", "1\r\nx-injected: 1")]), hasBody: false)
                == nil)
        #expect(HTTP2RequestTranslation.http1Request(from: fields(good + [("X-Upper", "1")]), hasBody: false) == nil)
        #expect(HTTP2RequestTranslation.http1Request(from: fields([("accept", "x")] + good), hasBody: false) == nil)
        #expect(HTTP2RequestTranslation.http1Request(from: fields(good + [(":unknown", "1")]), hasBody: false) == nil)
        #expect(HTTP2RequestTranslation.http1Request(from: fields(Array(good.dropLast())), hasBody: false) == nil)
        #expect(
            HTTP2RequestTranslation.http1Request(
                from: fields([(":method", "CONNECT"), (":authority", "x:443")]), hasBody: false) == nil)
    }

    /// What RFC 9113 §8.2 calls malformed, checked here since NIO's own check of header blocks is off.
    @Test(arguments: [
        [("connection", "keep-alive")], [("keep-alive", "5")], [("proxy-connection", "x")],
        [("transfer-encoding", "chunked")], [("upgrade", "h2c")], [("te", "gzip")], [("x-a", "1\u{0}")],
        [("x a", "1")], [("x-a\"", "1")], [("", "1")], [(":path", "/again")], [(":method", "POST")],
    ])
    func fieldsHTTP2ForbidsAreRefused(_ extra: [(String, String)]) {
        let good: [(String, String)] = [(":method", "GET"), (":scheme", "https"), (":authority", "x"), (":path", "/")]
        let pseudo = extra.filter { $0.0.hasPrefix(":") }
        let regular = extra.filter { !$0.0.hasPrefix(":") }
        #expect(HTTP2RequestTranslation.http1Request(from: fields(good + pseudo + regular), hasBody: false) == nil)
    }

    @Test func pseudoFieldValuesHaveNoSpaceOrControl() {
        for path in ["/a b", "/a\tb", "/a\u{7F}", ""] {
            let request: [(String, String)] = [
                (":method", "GET"), (":scheme", "https"), (":authority", "x"), (":path", path),
            ]
            #expect(HTTP2RequestTranslation.http1Request(from: fields(request), hasBody: false) == nil, "\(path)")
        }
        let utf8: [(String, String)] = [(":method", "GET"), (":scheme", "https"), (":authority", "x"), (":path", "/é")]
        #expect(HTTP2RequestTranslation.http1Request(from: fields(utf8), hasBody: false) != nil)
    }

    @Test func trailersHaveRegularFieldsOnly() {
        #expect(HTTP2RequestTranslation.isValidTrailers(fields([("x-checksum", "abc")])))
        #expect(!HTTP2RequestTranslation.isValidTrailers(fields([(":status", "200")])))
        #expect(!HTTP2RequestTranslation.isValidTrailers(fields([("Upper", "1")])))
        #expect(!HTTP2RequestTranslation.isValidTrailers(fields([("connection", "close")])))
    }
}

/// The bridge through `EmbeddedChannel`: HTTP/1.1 response bytes in, HTTP/2 frames out.
@Suite struct HTTP2StreamBridgeTests {
    @Test func aResponseBecomesHeadersAndDataEndingTheStream() throws {
        let channel = EmbeddedChannel(handler: HTTP2StreamBridge())
        var request = HPACKHeaders([(":method", "GET"), (":scheme", "https"), (":authority", "x"), (":path", "/")])
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: request, endStream: true)))
        let forwarded = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(String(buffer: forwarded).hasPrefix("GET / HTTP/1.1\r\nhost: x\r\n"))
        request = [:]

        try channel.writeOutbound(
            IOData.byteBuffer(
                ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\nX-A: b\r\n\r\nhel")))
        try channel.writeOutbound(IOData.byteBuffer(ByteBuffer(string: "lo")))
        guard case .headers(let head) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("expected HEADERS first")
            return
        }
        #expect(head.headers.first(name: ":status") == "200")
        #expect(head.headers.first(name: "x-a") == "b")
        #expect(head.headers.first(name: "connection") == nil)
        #expect(!head.endStream)
        var body = ""
        var ended = false
        while let frame = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) {
            guard case .data(let data) = frame, case .byteBuffer(let bytes) = data.data else { continue }
            body += String(buffer: bytes)
            ended = ended || data.endStream
        }
        #expect(body == "hello")
        #expect(ended)
    }

    /// A stream NIO resets for breaking HTTP/2's rules reaches the handler as a malformed request (logged 400);
    /// a reset the client sent stays what it is (the client left: 499).
    @Test func aStreamResetForBreakingTheRulesIsAMalformedRequest() throws {
        let channel = EmbeddedChannel(handler: HTTP2StreamBridge())
        channel.pipeline.fireErrorCaught(NIOHTTP2Errors.streamClosed(streamID: 1, errorCode: .protocolError))
        #expect(throws: MalformedRequestError.self) { try channel.throwIfErrorCaught() }
        channel.pipeline.fireErrorCaught(NIOHTTP2Errors.streamClosed(streamID: 1, errorCode: .cancel))
        #expect(throws: NIOHTTP2Errors.StreamClosed.self) { try channel.throwIfErrorCaught() }
    }

    @Test func anEmptyResponseEndsOnItsHeaders() throws {
        let channel = EmbeddedChannel(handler: HTTP2StreamBridge())
        try channel.writeInbound(
            HTTP2Frame.FramePayload.headers(
                .init(
                    headers: [":method": "HEAD", ":scheme": "https", ":authority": "x", ":path": "/"], endStream: true))
        )
        _ = try channel.readInbound(as: ByteBuffer.self)
        try channel.writeOutbound(
            IOData.byteBuffer(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")))
        guard case .headers(let head) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("expected HEADERS")
            return
        }
        #expect(head.endStream)
        #expect(head.headers.first(name: "content-length") == "500")
    }
}

@Suite struct CertificateInspectionTests {
    @Test func expiredCertificatesAreErrorsAndNearExpiryWarnings() throws {
        let directory = TestDirectory()
        let cert = directory.path + "/c.pem"
        let key = directory.path + "/k.pem"
        let made = try runToCompletion(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                "-out", cert,
                "-days", "30", "-subj", "/CN=a.test", "-addext", "subjectAltName=DNS:a.test,DNS:*.a.test",
            ])
        #expect(made.status == 0)
        chmod(key, 0o600)
        let pair = CertificatePairConfig(cert: cert, key: key)
        let now = CertificateInspection(pair)
        #expect(now.errors.isEmpty && now.warnings.isEmpty, "\(now.errors) \(now.warnings)")
        #expect(now.names == ["a.test", "*.a.test"])
        let nearEnd = CertificateInspection(pair, now: Date().addingTimeInterval(25 * 24 * 3600))
        #expect(nearEnd.errors.isEmpty && nearEnd.warnings.contains { $0.contains("in less than 14 days") })
        let later = CertificateInspection(pair, now: Date().addingTimeInterval(40 * 24 * 3600))
        #expect(later.errors.contains { $0.contains("expired on") })
    }
}
