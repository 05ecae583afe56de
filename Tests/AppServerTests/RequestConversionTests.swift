import HTTPTypes
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import AppServer
@testable import Shared

/// A parsed request as the app sees it: client and scheme decided at once, the full `HTTPRequest` built on first
/// read, forwarding fields only from trusted peers.
@Suite struct RequestConversionTests {
    private static let text =
        "POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 203.0.113.7, 10.0.0.2\r\n"
        + "X-Forwarded-Proto: HTTPS\r\nX-Real-IP: 203.0.113.7\r\nUser-Agent: t\r\nX-Custom: a b\r\n\r\n"

    private func parsed() throws -> RequestHead {
        var parser = HTTP1RequestParser(limits: .init(maxURILength: 8192, maxHeaderSize: 8192))
        parser.append(ByteBuffer(string: Self.text))
        guard case .head(let head) = try parser.next() else { throw ConversionFailure() }
        return head
    }

    private struct ConversionFailure: Error {}

    @Test func aTrustedPeerNamesTheClientAndSchemeAndKeepsItsForwardingFields() throws {
        let policy = ForwardedPolicy([.network(try #require(CIDR("127.0.0.1/32")))])
        let (lazyHead, client, scheme) = ParsedRequestConverter.convert(
            try parsed(), peer: .ip("127.0.0.1"), policy: policy)
        #expect(client == "203.0.113.7")
        #expect(scheme == "https")
        #expect(lazyHead.method == .post)
        #expect(lazyHead.path == "/upload?x=1")
        let head = lazyHead.head
        #expect(head.authority == "example.com")
        #expect(head.scheme == "https")
        #expect(head.headerFields[.xForwardedFor] == "203.0.113.7, 10.0.0.2")
        #expect(head.headerFields[.userAgent] == "t")
        #expect(head.headerFields[HTTPField.Name("X-Custom")!] == "a b")
    }

    @Test func anUntrustedPeerIsTheClientAndItsForwardingFieldsNeverReachTheApp() throws {
        let (lazyHead, client, scheme) = ParsedRequestConverter.convert(
            try parsed(), peer: .ip("198.51.100.9"), policy: ForwardedPolicy([]))
        #expect(client == "198.51.100.9")
        #expect(scheme == "http")
        let fields = lazyHead.head.headerFields
        #expect(fields[.xForwardedFor] == nil && fields[.xForwardedProto] == nil && fields[.xRealIP] == nil)
        #expect(fields[.userAgent] == "t")
    }

    @Test func aUnixPeerIsBelievedWhenListedOrRunningAsAppServersOwnUser() {
        let policy = ForwardedPolicy([.uid(2000)], ownUID: 1000)
        #expect(policy.trusts(.unix(uid: 1000)))
        #expect(policy.trusts(.unix(uid: 2000)))
        #expect(!policy.trusts(.unix(uid: 1001)))
        #expect(!policy.trusts(.unix(uid: nil)))
        #expect(!policy.trusts(.ip("127.0.0.1")))
    }

    @Test func theHeadIsBuiltOnceAndSharedButAssigningItChangesOnlyThatCopy() throws {
        let builds = NIOLockedValueBox(0)
        let lazyHead = AppRequestHead(method: .get, path: "/a") {
            builds.withLockedValue { $0 += 1 }
            return HTTPRequest(method: .get, scheme: "http", authority: "x", path: "/a")
        }
        let original = AppRequest(lazyHead: lazyHead, clientAddress: "c", scheme: "http", body: .empty)
        #expect(original.method == .get && original.path == "/a")
        #expect(builds.withLockedValue { $0 } == 0)
        var copy = original
        #expect(copy.head.path == "/a")
        #expect(original.head.path == "/a")
        #expect(builds.withLockedValue { $0 } == 1)
        copy.head.path = "/b"
        #expect(copy.path == "/b" && copy.head.path == "/b")
        #expect(original.path == "/a" && original.head.path == "/a")
    }
}
