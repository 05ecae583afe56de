import NIOCore
import NIOHTTP1
import Shared
import Testing

@testable import EdgeCore

@Suite struct ProxyHeadersTests {
    private func head(_ text: String) throws -> RequestHead {
        var parser = HTTP1RequestParser(limits: .init(maxURILength: 1024, maxHeaderSize: 4096))
        parser.append(ByteBuffer(string: text))
        guard case .head(let head) = try parser.next() else { throw TestError() }
        return head
    }

    struct TestError: Error {}

    private func facts(
        peer: String, _ headers: String, trusted: [String] = ["10.0.0.0/8"],
        header: RealIPConfig.Header = .xForwardedFor
    ) throws -> ClientFacts {
        var realIP = RealIPConfig()
        realIP.trusted = trusted.compactMap(CIDR.init)
        realIP.header = header
        let parsed = try head("GET / HTTP/1.1\r\nHost: h\r\n\(headers)\r\n")
        return ProxyHeaders.clientFacts(
            peer: peer, trusted: realIP.trusts(peer), head: parsed, realIP: realIP, scheme: "http", port: 80
        ) { "generated" }
    }

    @Test func untrustedPeersCannotClaimAnAddress() throws {
        let client = try facts(peer: "203.0.113.9", "X-Forwarded-For: 1.2.3.4\r\nX-Request-ID: abc\r\n")
        #expect(client.address == "203.0.113.9")
        #expect(client.forwardedFor == "203.0.113.9")
        #expect(client.requestID == "generated")
    }

    @Test func trustedChainIsWalkedFromTheRightPastTrustedHops() throws {
        let client = try facts(
            peer: "10.0.0.2", "X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.0.0.5\r\nX-Request-ID: req-1\r\n")
        #expect(client.address == "198.51.100.7")  // 10.0.0.5 is one of ours; 6.6.6.6 could be forged by the client
        #expect(client.forwardedFor == "6.6.6.6, 198.51.100.7, 10.0.0.5, 10.0.0.2")
        #expect(client.requestID == "req-1")
    }

    @Test func theChainIsReadAcrossFieldsWithOddSpacingAndEmptyHops() throws {
        let client = try facts(
            peer: "10.0.0.2", "X-Forwarded-For: 6.6.6.6,,\t198.51.100.7 \r\nX-Forwarded-For: , 10.0.0.5\r\n")
        #expect(client.address == "198.51.100.7")
        #expect(client.forwardedFor == "6.6.6.6, 198.51.100.7, 10.0.0.5, 10.0.0.2")
        let garbage = try facts(peer: "10.0.0.2", "X-Forwarded-For: not-an-address, 10.0.0.9\r\n")
        #expect(garbage.address == "10.0.0.9")  // every parseable hop trusted: the leftmost of them
    }

    @Test func cloudflareHeaderWhenConfigured() throws {
        let client = try facts(
            peer: "10.1.1.1", "CF-Connecting-IP: 192.0.2.44\r\nX-Forwarded-For: 9.9.9.9\r\n", header: .cfConnectingIP)
        #expect(client.address == "192.0.2.44")
        let spoofed = try facts(peer: "192.0.2.1", "CF-Connecting-IP: 192.0.2.44\r\n", header: .cfConnectingIP)
        #expect(spoofed.address == "192.0.2.1")
    }

    @Test func malformedRequestIDsAreReplaced() throws {
        #expect(try facts(peer: "10.0.0.1", "X-Request-ID: has space\r\n").requestID == "generated")
        #expect(
            try facts(peer: "10.0.0.1", "X-Request-ID: \(String(repeating: "a", count: 200))\r\n").requestID
                == "generated")
    }

    @Test func hopByHopFieldsNeverCrossAndFramingIsEdges() throws {
        let request = try head(
            "POST /u HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nUpgrade: foo\r\nProxy-Connection: x\r\nX-Forwarded-Proto: https\r\nContent-Length: 3\r\nAccept: */*\r\n\r\n"
        )
        let client = ClientFacts(
            address: "1.1.1.1", forwardedFor: "1.1.1.1", scheme: "http", host: "h", port: 8080, requestID: "r")
        var encoded = ByteBuffer()
        ProxyHeaders.writeUpstreamRequest(request, client: client, into: &encoded)
        // What the upstream receives, read back with the request parser.
        let upstream = try head(String(buffer: encoded))
        #expect(upstream.method == .POST && upstream.target == "/u" && upstream.minorVersion == 1)
        let names = Set(upstream.headers.map { $0.name.lowercased() })
        for dropped in ["connection", "x-private", "keep-alive", "te", "upgrade", "proxy-connection"] {
            #expect(!names.contains(dropped))
        }
        #expect(upstream.headers.all("x-forwarded-proto") == ["http"])
        #expect(upstream.headers.all("content-length") == ["3"])
        #expect(upstream.headers.all("host") == ["h"])
        #expect(upstream.headers.all("accept") == ["*/*"])
        #expect(upstream.headers.all("x-forwarded-port") == ["8080"])
        #expect(upstream.headers.all("x-forwarded-for") == ["1.1.1.1"])

        var parser = HTTP1ResponseParser()
        parser.append(
            ByteBuffer(
                string:
                    "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\nDate: x\r\n\r\n"
            ))
        guard case .head(let response) = try parser.next() else { throw TestError() }
        var passed = ByteBuffer()
        ProxyHeaders.writeClientResponseFields(response, into: &passed)
        #expect(String(buffer: passed) == "Content-Type: text/plain\r\n")
    }

    @Test func aNoContentAnswerLosesAContentLengthButANotModifiedKeepsIt() throws {
        func passed(_ text: String) throws -> String {
            var parser = HTTP1ResponseParser()
            parser.append(ByteBuffer(string: text))
            guard case .head(let response) = try parser.next() else { throw TestError() }
            var fields = ByteBuffer()
            ProxyHeaders.writeClientResponseFields(response, into: &fields)
            return String(buffer: fields)
        }
        #expect(try passed("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nX-A: 1\r\n\r\n") == "X-A: 1\r\n")
        // A 304's Content-Length is the length of the representation it validates (RFC 9110 §8.6).
        #expect(try passed("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n") == "Content-Length: 50\r\n")
    }

    @Test func anAbsoluteFormTargetGoesUpInOriginFormWithItsHost() throws {
        let request = try head("GET http://app.example/p?q=1 HTTP/1.1\r\nHost: other\r\nAccept: */*\r\n\r\n")
        let absoluteClient = ProxyHeaders.clientFacts(
            peer: "203.0.113.9", trusted: false, head: request, realIP: RealIPConfig(), scheme: "http", port: 80
        ) { "generated" }
        #expect(absoluteClient.host == "app.example")
        var encoded = ByteBuffer()
        ProxyHeaders.writeUpstreamRequest(request, client: absoluteClient, into: &encoded)
        let upstream = try head(String(buffer: encoded))
        #expect(upstream.target == "/p?q=1")
        #expect(upstream.headers.all("host") == ["app.example"])
        #expect(upstream.headers.all("x-forwarded-host") == ["app.example"])
        #expect(upstream.headers.all("accept") == ["*/*"])
    }

    @Test func aCDNsClientAddressFieldsPassOnlyFromATrustedPeer() throws {
        let request = try head(
            "GET / HTTP/1.1\r\nHost: h\r\nCF-Connecting-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nAccept: */*\r\n\r\n")
        for trusted in [false, true] {
            var client = ClientFacts(
                address: "1.1.1.1", forwardedFor: "1.1.1.1", scheme: "http", host: "h", port: 80, requestID: "r")
            client.peerIsTrusted = trusted
            var encoded = ByteBuffer()
            ProxyHeaders.writeUpstreamRequest(request, client: client, into: &encoded)
            let upstream = try head(String(buffer: encoded))
            #expect(upstream.headers.all("cf-connecting-ip") == (trusted ? ["6.6.6.6"] : []))
            #expect(upstream.headers.all("true-client-ip") == (trusted ? ["6.6.6.6"] : []))
            #expect(upstream.headers.all("accept") == ["*/*"])
        }
    }

    @Test func upgradeIsPassedOnExplicitly() throws {
        let request = try head("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        let client = ClientFacts(
            address: "1.1.1.1", forwardedFor: "1.1.1.1", scheme: "http", host: "h", port: 80, requestID: "r")
        var encoded = ByteBuffer()
        ProxyHeaders.writeUpstreamRequest(request, client: client, into: &encoded)
        let upstream = try head(String(buffer: encoded))
        #expect(upstream.headers.all("upgrade") == ["websocket"])
        #expect(upstream.connectionOptions == ["upgrade"])
    }
}
