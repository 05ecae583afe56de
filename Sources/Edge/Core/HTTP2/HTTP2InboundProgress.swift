import NIOCore

/// Follows the bytes a client sends on an HTTP/2 connection, frame by frame without decoding them, to tell whether
/// part of a request head is still on its way: the connection preface, a frame other than DATA, or a header block
/// (HEADERS and its CONTINUATION frames) whose END_HEADERS has not come.
///
/// swift-nio-http2 sees a frame only once all of it has arrived, and a stream only once its header block has; until
/// then no stream exists whose timer could run. `timeouts.header` bounds that wait with this. A DATA frame's payload
/// is a request body, bounded by `timeouts.body` on its stream.
struct HTTP2InboundProgress {
    private static let prefaceLength = 24
    private static let frameHeaderLength = 9
    private static let dataType: UInt8 = 0x0
    private static let headersType: UInt8 = 0x1
    private static let continuationType: UInt8 = 0x9
    private static let endHeadersFlag: UInt8 = 0x4

    private var prefaceRemaining = Self.prefaceLength
    /// How many bytes of the current frame's 9-byte header have arrived, and what they said so far.
    private var frameHeaderBytes = 0
    private var frameLength = 0
    private var frameType: UInt8 = 0
    private var frameFlags: UInt8 = 0
    private var remainingPayload = 0
    private var headerBlockOpen = false

    /// Whether part of a head (the preface, a frame other than DATA, or a header block) has arrived and the rest has
    /// not. True from the start, until the preface is in.
    var isWaitingForHead: Bool {
        prefaceRemaining > 0 || frameHeaderBytes > 0 || headerBlockOpen
            || (remainingPayload > 0 && frameType != Self.dataType)
    }

    /// Scans the next bytes received. Returns whether something whole ended in them: the preface, or a frame that
    /// does not leave a header block open. A client trickling a header block frame by frame completes nothing.
    mutating func consume(_ buffer: ByteBuffer) -> Bool {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        var completed = false
        if prefaceRemaining > 0 {
            let taken = min(prefaceRemaining, end - index)
            index += taken
            prefaceRemaining -= taken
            completed = prefaceRemaining == 0
        }
        while index < end {
            if remainingPayload > 0 {
                let skipped = min(remainingPayload, end - index)
                index += skipped
                remainingPayload -= skipped
                if remainingPayload == 0 && !headerBlockOpen { completed = true }
                continue
            }
            let byte = buffer.getInteger(at: index, as: UInt8.self)!
            index += 1
            switch frameHeaderBytes {
            case 0...2: frameLength = frameLength << 8 | Int(byte)
            case 3: frameType = byte
            case 4: frameFlags = byte
            default: break
            }
            frameHeaderBytes += 1
            guard frameHeaderBytes == Self.frameHeaderLength else { continue }
            frameHeaderBytes = 0
            remainingPayload = frameLength
            frameLength = 0
            if frameType == Self.headersType {
                headerBlockOpen = frameFlags & Self.endHeadersFlag == 0
            } else if frameType == Self.continuationType && frameFlags & Self.endHeadersFlag != 0 {
                headerBlockOpen = false
            }
            if remainingPayload == 0 && !headerBlockOpen { completed = true }
        }
        return completed
    }
}
