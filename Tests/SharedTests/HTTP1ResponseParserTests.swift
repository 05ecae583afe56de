import NIOCore
import Testing

@testable import Shared

@Suite struct HTTP1ResponseParserTests {
    enum Seen: Equatable {
        case head(status: Int, reason: String, keepAlive: Bool, framing: BodyFraming)
        case body(String)
        case end
    }

    /// Feeds `chunks` (one byte at a time when `bytewise`), optionally closes, and collects events with body pieces
    /// merged, or the error.
    private func parse(
        _ chunks: [String], toHEAD: Bool = false, closeAfter: Bool = false, bytewise: Bool = false
    ) -> (events: [Seen], error: HTTP1ParseError?) {
        var parser = HTTP1ResponseParser(maxHeadSize: 256)
        parser.expectResponse(toHEAD: toHEAD)
        var events: [Seen] = []
        func record(_ event: HTTP1ResponseParser.Event) {
            switch event {
            case .head(let head):
                events.append(
                    .head(
                        status: head.status, reason: head.reasonPhrase, keepAlive: head.keepAlive,
                        framing: head.bodyFraming))
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
        let pieces = bytewise ? chunks.joined().map { String($0) } : chunks
        do {
            for piece in pieces {
                parser.append(ByteBuffer(string: piece))
                while let event = try parser.next() { record(event) }
            }
            if closeAfter, let event = try parser.connectionClosed() { record(event) }
        } catch {
            return (events, error)
        }
        return (events, nil)
    }

    @Test(arguments: [false, true]) func lengthDelimitedBody(bytewise: Bool) {
        let result = parse(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"], bytewise: bytewise)
        #expect(
            result.events == [
                .head(status: 200, reason: "OK", keepAlive: true, framing: .length(5)), .body("hello"), .end,
            ])
        #expect(result.error == nil)
    }

    @Test(arguments: [false, true]) func chunkedBodyWithTrailers(bytewise: Bool) {
        let result = parse(
            ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n"],
            bytewise: bytewise)
        #expect(
            result.events == [
                .head(status: 200, reason: "OK", keepAlive: true, framing: .chunked), .body("hello!"), .end,
            ])
    }

    @Test func bodyWithoutLengthEndsAtClose() {
        let result = parse(["HTTP/1.1 200 OK\r\n\r\nall ", "of it"], closeAfter: true)
        #expect(
            result.events == [
                .head(status: 200, reason: "OK", keepAlive: false, framing: .untilClose), .body("all of it"), .end,
            ])
    }

    @Test(arguments: ["gzip", "gzip, chunked", "chunked, gzip", "chunked, chunked", "identity"])
    func transferCodingsOtherThanChunkedAreRefused(coding: String) {
        // Transfer-Encoding stops at Edge: a body still coded would reach the client unmarked.
        let result = parse(
            ["HTTP/1.1 200 OK\r\nTransfer-Encoding: \(coding)\r\n\r\n5\r\nhello\r\n0\r\n\r\n"], closeAfter: true)
        #expect(result.events.isEmpty)
        #expect(result.error == .malformed("unsupported Transfer-Encoding '\(coding)'"))
    }

    @Test func responsesThatCannotHaveABody() {
        #expect(
            parse(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"], toHEAD: true).events
                == [.head(status: 200, reason: "OK", keepAlive: true, framing: .none), .end])
        #expect(
            parse(["HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"]).events
                == [.head(status: 304, reason: "Not Modified", keepAlive: true, framing: .none), .end])
        #expect(
            parse(["HTTP/1.1 204 No Content\r\n\r\n"]).events
                == [.head(status: 204, reason: "No Content", keepAlive: true, framing: .none), .end])
    }

    @Test func interimResponsesAreDroppedButSwitchingProtocolsIsNot() {
        #expect(
            parse([
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
            ]).events
                == [.head(status: 201, reason: "Created", keepAlive: true, framing: .length(0)), .end])
        var parser = HTTP1ResponseParser()
        parser.append(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{81}\u{1}x"))
        guard case .head(let head) = try? parser.next() else { Issue.record("no head"); return }
        #expect(head.status == 101)
        guard case .end = try? parser.next() else { Issue.record("no end"); return }
        #expect(String(buffer: parser.takeUnparsedBytes()) == "\u{81}\u{1}x")
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nConnection: close\r\n", "OK", false), ("HTTP/1.0 200 OK\r\n", "OK", false),
        ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", "OK", true), ("HTTP/1.1 200\r\n", "", true),
    ])
    func connectionSemantics(head: String, reason: String, keepAlive: Bool) {
        #expect(
            parse([head + "Content-Length: 0\r\n\r\n"]).events.first
                == .head(status: 200, reason: reason, keepAlive: keepAlive, framing: .length(0)))
    }

    @Test(arguments: [
        "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "garbage\r\n\r\n",
    ])
    func malformedResponsesAreErrors(text: String) {
        #expect(parse([text]).error != nil)
    }

    @Test func oversizedHeadAndCutResponsesAreErrors() {
        #expect(
            parse(["HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 300)]).error
                == .malformed("response head larger than 256 bytes"))
        let manyTrailers = (0..<60).map { "X\($0): t\r\n" }.joined()
        let trailers = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + manyTrailers
        #expect(parse([trailers]).error == .malformed("response trailers larger than 256 bytes"))
        #expect(parse(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], closeAfter: true).error != nil)
        #expect(parse(["HTTP/1.1 200 OK\r\nContent-"], closeAfter: true).error != nil)
        #expect(parse([], closeAfter: true).events.isEmpty)
    }
}
