import NIOCore
import Testing

@testable import EdgeCore

@Suite struct HTTP2FrameBoundariesTests {
    static func frame(type: UInt8, stream: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, 0]
            + withUnsafeBytes(of: stream.bigEndian, Array.init) + payload
    }

    static func goAway(lastStreamID: UInt32, errorCode: UInt32, debugData: [UInt8] = []) -> [UInt8] {
        frame(
            type: 7,
            payload: withUnsafeBytes(of: lastStreamID.bigEndian, Array.init)
                + withUnsafeBytes(of: errorCode.bigEndian, Array.init) + debugData)
    }

    @Test func findsAnErrorGoAwayAfterOtherFramesAndWhereItsLastStreamIDLies() {
        let settings = Self.frame(type: 4, payload: [0, 3, 0, 0, 0, 100])
        let data = Self.frame(type: 0, stream: 1, payload: Array(repeating: 0x61, count: 300))
        var buffer = ByteBuffer(bytes: settings + data + Self.goAway(lastStreamID: 0x7fff_ffff, errorCode: 1))
        buffer.moveReaderIndex(forwardBy: 0)
        var boundaries = HTTP2FrameBoundaries()
        let found = boundaries.scan(buffer)
        #expect(found == .init(errorCode: 1, lastStreamIDIndex: settings.count + data.count + 9))
    }

    @Test func aGracefulGoAwayIsNotAnError() {
        var boundaries = HTTP2FrameBoundaries()
        #expect(boundaries.scan(ByteBuffer(bytes: Self.goAway(lastStreamID: 7, errorCode: 0))) == nil)
        // The frame after it is still found: the boundaries were kept.
        #expect(boundaries.scan(ByteBuffer(bytes: Self.goAway(lastStreamID: 7, errorCode: 11)))?.errorCode == 11)
    }

    /// Payload bytes that happen to look like a GOAWAY are skipped by the frame's length.
    @Test func aPayloadThatLooksLikeAGoAwayIsNotOne() {
        let lookalike = Self.goAway(lastStreamID: 1, errorCode: 1)
        var boundaries = HTTP2FrameBoundaries()
        #expect(boundaries.scan(ByteBuffer(bytes: Self.frame(type: 0, stream: 1, payload: lookalike))) == nil)
    }

    /// Writes need not start or end at a frame boundary: a GOAWAY cut anywhere is found once, in the write that
    /// completes its error code, with an index only when its last-stream-id lies in that write.
    @Test func aGoAwayCutAcrossWritesIsFoundOnce() {
        let data = Self.frame(type: 0, stream: 3, payload: Array(repeating: 0x62, count: 40))
        let bytes = data + Self.goAway(lastStreamID: 9, errorCode: 9, debugData: Array("bye".utf8))
        for cut in 1..<bytes.count {
            var boundaries = HTTP2FrameBoundaries()
            let first = boundaries.scan(ByteBuffer(bytes: bytes[..<cut]))
            let second = boundaries.scan(ByteBuffer(bytes: bytes[cut...]))
            let found = [first, second].compactMap { $0 }
            #expect(found.count == 1 && found[0].errorCode == 9, "cut at \(cut)")
            if cut <= data.count {
                #expect(second?.lastStreamIDIndex == data.count - cut + 9, "cut at \(cut)")
            } else if cut >= data.count + 17 {
                #expect(first?.lastStreamIDIndex == data.count + 9, "cut at \(cut)")
            } else {
                #expect(found[0].lastStreamIDIndex == nil, "cut at \(cut)")
            }
        }
    }
}
