import NIOCore
import NIOHPACK
import NIOHTTP2
import Shared

/// Turns the HTTP/1.1 response Edge writes for one request into the HEADERS and DATA frames of its HTTP/2 stream:
/// the head's fields as HTTP/2 allows them, the body undone from its HTTP/1 framing (a length, or chunks).
///
/// The head is held until the body starts, so an empty body ends the stream on the HEADERS frame itself; a body that
/// ends in the bytes carrying it ends the stream on its own last DATA frame.
struct HTTP2ResponseFramer {
    private var parser = HTTP1ResponseParser()
    /// A head parsed but not yet sent.
    private var heldHead: HPACKHeaders?
    /// The response's end has been framed.
    private(set) var ended = false

    /// A response to HEAD has no body, whatever its fields announce.
    mutating func expectResponse(toHEAD: Bool) {
        parser.expectResponse(toHEAD: toHEAD)
    }

    /// The frames for the next bytes of the response, in order. Throws when the bytes are not a response: Edge
    /// wrote something it cannot read back.
    mutating func frames(for bytes: ByteBuffer) throws -> [HTTP2Frame.FramePayload] {
        parser.append(bytes)
        var frames: [HTTP2Frame.FramePayload] = []
        while !ended, let event = try parser.next() {
            switch event {
            case .head(let head):
                heldHead = HTTP2RequestTranslation.http2ResponseFields(head)
            case .body(let body):
                if let head = heldHead.take() { frames.append(.headers(.init(headers: head))) }
                frames.append(.data(.init(data: .byteBuffer(body))))
            case .end:
                if let head = heldHead.take() {
                    frames.append(.headers(.init(headers: head, endStream: true)))
                } else if case .data(var last)? = frames.last {
                    // An empty DATA frame after the last one cost a tenth of a small file's response.
                    last.endStream = true
                    frames[frames.count - 1] = .data(last)
                } else {
                    frames.append(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
                }
                ended = true
            }
        }
        return frames
    }

    /// The held head, for a flush before the body starts: a streamed response (server-sent events, a long poll)
    /// shows its head at once.
    mutating func takeHeldHead() -> HTTP2Frame.FramePayload? {
        heldHead.take().map { .headers(.init(headers: $0)) }
    }
}
