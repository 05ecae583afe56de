import NIOCore

/// Follows the frame boundaries in the bytes Edge writes on an HTTP/2 connection, to find the GOAWAY frames that end
/// it for an error, without decoding anything else.
///
/// swift-nio-http2 writes its own GOAWAY when it finds a connection error (and names stream 2^31-1 as the last one
/// processed); below it only encoded bytes pass, in writes that need not start or end at a frame boundary. A frame
/// header costs nine byte reads here; a frame's payload is skipped by its length.
struct HTTP2FrameBoundaries {
    /// A GOAWAY frame with an error code (anything but NO_ERROR).
    struct ErrorGoAway: Equatable {
        let errorCode: UInt32
        /// Where its last-stream-id field lies in the buffer scanned, when all of it lies there (so it can be
        /// rewritten before the buffer goes on).
        let lastStreamIDIndex: Int?
    }

    private static let headerLength = 9
    private static let goAwayType: UInt8 = 7
    /// A GOAWAY's header and the fixed part of its payload: last-stream-id and error code.
    private static let goAwayPrefixLength = headerLength + 8

    /// The current frame's first bytes, while they are still being collected (at most a GOAWAY's prefix).
    private var prefix: [UInt8] = []
    /// Where the prefix began in the buffer being scanned; `nil` if it began in an earlier one.
    private var prefixStart: Int?
    /// Payload bytes of the current frame still to skip.
    private var remainingPayload = 0

    init() {
        prefix.reserveCapacity(Self.goAwayPrefixLength)
    }

    /// Scans the next bytes written, and returns the first GOAWAY with an error code that completes in them.
    mutating func scan(_ buffer: ByteBuffer) -> ErrorGoAway? {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        var found: ErrorGoAway?
        while index < end {
            if remainingPayload > 0 {
                let skipped = min(remainingPayload, end - index)
                index += skipped
                remainingPayload -= skipped
                continue
            }
            if prefix.isEmpty { prefixStart = index }
            prefix.append(buffer.getInteger(at: index, as: UInt8.self)!)
            index += 1
            if let goAway = frameStartRead(), found == nil { found = goAway }
        }
        prefixStart = nil
        return found
    }

    /// Feeds a region of a file, which is always payload (frames are never encoded into files).
    mutating func skip(_ count: Int) {
        remainingPayload = max(0, remainingPayload - count)
    }

    /// Called after each prefix byte: once the header (or a GOAWAY's prefix) is complete, moves on to the payload.
    private mutating func frameStartRead() -> ErrorGoAway? {
        guard prefix.count >= Self.headerLength else { return nil }
        let isGoAway = prefix[3] == Self.goAwayType
        let payloadLength = Int(prefix[0]) << 16 | Int(prefix[1]) << 8 | Int(prefix[2])
        if isGoAway && payloadLength >= 8 && prefix.count < Self.goAwayPrefixLength { return nil }
        defer {
            remainingPayload = payloadLength - (prefix.count - Self.headerLength)
            prefix.removeAll(keepingCapacity: true)
        }
        guard isGoAway && prefix.count == Self.goAwayPrefixLength else { return nil }
        let errorCode = prefix[13..<17].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard errorCode != 0 else { return nil }
        return ErrorGoAway(errorCode: errorCode, lastStreamIDIndex: prefixStart.map { $0 + Self.headerLength })
    }
}
