import NIOCore
import Testing

@testable import EdgeCore

@Suite struct HTTP2InboundProgressTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32 = 1, payloadLength: Int) -> [UInt8] {
        [UInt8(payloadLength >> 16 & 0xff), UInt8(payloadLength >> 8 & 0xff), UInt8(payloadLength & 0xff), type, flags]
            + withUnsafeBytes(of: stream.bigEndian, Array.init) + Array(repeating: 0x61, count: payloadLength)
    }

    static let settings = frame(type: 4, stream: 0, payloadLength: 6)
    static let wholeHeaders = frame(type: 1, flags: 0x5, payloadLength: 40)
    static let openHeaders = frame(type: 1, flags: 0x1, payloadLength: 40)
    static let continuation = frame(type: 9, payloadLength: 20)
    static let lastContinuation = frame(type: 9, flags: 0x4, payloadLength: 20)
    static let data = frame(type: 0, payloadLength: 100)

    private func feed(_ progress: inout HTTP2InboundProgress, _ bytes: [UInt8]) -> Bool {
        progress.consume(ByteBuffer(bytes: bytes))
    }

    @Test func thePrefaceIsAwaitedFromTheStart() {
        var progress = HTTP2InboundProgress()
        #expect(progress.isWaitingForHead)
        #expect(!feed(&progress, Array(Self.preface.prefix(10))))
        #expect(progress.isWaitingForHead)
        #expect(feed(&progress, Array(Self.preface.dropFirst(10)) + Self.settings))
        #expect(!progress.isWaitingForHead)
    }

    @Test func aHeadersFrameSplitAnywhereIsAwaitedUntilItsLastByte() {
        for split in 1..<Self.wholeHeaders.count {
            var progress = HTTP2InboundProgress()
            _ = feed(&progress, Self.preface + Self.settings)
            #expect(!feed(&progress, Array(Self.wholeHeaders.prefix(split))))
            #expect(progress.isWaitingForHead, "split at \(split)")
            #expect(feed(&progress, Array(Self.wholeHeaders.dropFirst(split))))
            #expect(!progress.isWaitingForHead, "split at \(split)")
        }
    }

    /// CONTINUATION frames that each arrive whole complete nothing until END_HEADERS: trickling them frame by frame
    /// does not restart the deadline.
    @Test func aHeaderBlockIsAwaitedUntilEndHeaders() {
        var progress = HTTP2InboundProgress()
        _ = feed(&progress, Self.preface + Self.settings)
        #expect(!feed(&progress, Self.openHeaders))
        #expect(!feed(&progress, Self.continuation))
        #expect(!feed(&progress, Self.continuation))
        #expect(progress.isWaitingForHead)
        #expect(feed(&progress, Self.lastContinuation))
        #expect(!progress.isWaitingForHead)
    }

    /// A request body is `timeouts.body`'s business: a DATA frame cut in its payload is not a head.
    @Test func aPartialDataFrameIsNotAHead() {
        var progress = HTTP2InboundProgress()
        _ = feed(&progress, Self.preface + Self.settings + Self.wholeHeaders)
        #expect(!feed(&progress, Array(Self.data.prefix(50))))
        #expect(!progress.isWaitingForHead)
        // Its 9-byte header, cut, still is: the frame's kind is not known yet.
        var cut = HTTP2InboundProgress()
        _ = feed(&cut, Self.preface + Self.settings + Array(Self.data.prefix(4)))
        #expect(cut.isWaitingForHead)
    }

    @Test func framesInOneReadThatEndMidwayThroughANewHeadReportTheCompletion() {
        var progress = HTTP2InboundProgress()
        _ = feed(&progress, Self.preface)
        #expect(feed(&progress, Self.settings + Self.wholeHeaders + Array(Self.wholeHeaders.prefix(3))))
        #expect(progress.isWaitingForHead)
    }
}
