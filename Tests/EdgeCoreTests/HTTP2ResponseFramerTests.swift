import NIOCore
import NIOHTTP2
import Testing

@testable import EdgeCore

/// An HTTP/1.1 response, as a proxied request writes it piece by piece, becomes its stream's frames.
@Suite struct HTTP2ResponseFramerTests {
    private func describe(_ frames: [HTTP2Frame.FramePayload]) -> [String] {
        frames.map { frame in
            switch frame {
            case .headers(let headers):
                "HEADERS \(headers.headers.first(name: ":status") ?? "-")\(headers.endStream ? " END" : "")"
            case .data(let data):
                "DATA \(data.data.readableBytes)\(data.endStream ? " END" : "")"
            default:
                "other"
            }
        }
    }

    /// A streamed response (chunked, as server-sent events are) shows its head at a flush before any body, each
    /// chunk as DATA when it arrives, and ends the stream on an empty DATA frame when the end comes alone.
    @Test func aStreamedResponseFramesEachPieceAsItArrives() throws {
        var framer = HTTP2ResponseFramer()
        framer.expectResponse(toHEAD: false)
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(describe(try framer.frames(for: ByteBuffer(string: head))).isEmpty, "the head is held")
        #expect(framer.takeHeldHead().map { describe([$0]) } == ["HEADERS 200"])
        #expect(framer.takeHeldHead() == nil)
        #expect(describe(try framer.frames(for: ByteBuffer(string: "9\r\ndata: 0\n\n\r\n"))) == ["DATA 9"])
        #expect(describe(try framer.frames(for: ByteBuffer(string: "0\r\n\r\n"))) == ["DATA 0 END"])
        #expect(framer.ended)
    }

    /// A head and a whole body in one write: HEADERS, then one DATA frame ending the stream. A response to HEAD ends
    /// on its HEADERS, whatever length it announces.
    @Test func aWholeResponseEndsOnItsLastFrame() throws {
        var framer = HTTP2ResponseFramer()
        framer.expectResponse(toHEAD: false)
        let response = ByteBuffer(string: "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope\n")
        #expect(describe(try framer.frames(for: response)) == ["HEADERS 404", "DATA 5 END"])

        var head = HTTP2ResponseFramer()
        head.expectResponse(toHEAD: true)
        let headResponse = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        #expect(describe(try head.frames(for: headResponse)) == ["HEADERS 200 END"])
    }

    @Test func bytesThatAreNotAResponseAreAnError() {
        var framer = HTTP2ResponseFramer()
        #expect(throws: (any Error).self) { try framer.frames(for: ByteBuffer(string: "NOT HTTP\r\n\r\n")) }
    }
}
