import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Splits a `multipart/form-data` body (RFC 7578, RFC 2046 §5.1) into parts as it streams in.
///
/// Part contents are handed on in the pieces they arrived in; only the last few bytes of a piece are held back,
/// because they might be the start of a boundary that the next piece completes. So a file of any size passes
/// through in bounded memory, and a boundary split across pieces at any byte is still found.
struct MultipartReader {
    enum Event: Equatable {
        /// A part begins; its contents follow as `bytes`, then `partEnded`.
        case partBegan(FormPart)
        case bytes(ByteBuffer)
        case partEnded
    }

    /// Part headers longer than this are refused (a form part's header is a line or two).
    static let maxHeaderBytes = 16 * 1024

    private enum State {
        /// Before the first boundary: anything there is ignored.
        case preamble
        /// Just after a boundary: `--` ends the form, a line end begins a part.
        case afterBoundary
        case partHeader
        case partContents
        /// After the closing boundary: anything there is ignored.
        case epilogue
    }

    /// CRLF, `--` and the boundary: what ends one part. The first boundary has no CRLF before it, so the reader
    /// starts as if one had arrived.
    private let delimiter: [UInt8]
    private var pending = ByteBuffer(string: "\r\n")
    private var state = State.preamble

    /// `boundary` as the `Content-Type` names it (1 to 70 characters, RFC 2046).
    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
    }

    /// The boundary of a `multipart/form-data` `Content-Type`. Nil for another type; throws if it is
    /// `multipart/form-data` without a usable boundary.
    static func boundary(ofContentType contentType: String?) throws(MultipartError) -> String? {
        guard let contentType else { return nil }
        let parsed = HeaderParameters(parsing: contentType)
        guard parsed.value == "multipart/form-data" else { return nil }
        guard let boundary = parsed["boundary"], (1...70).contains(boundary.utf8.count) else { throw .missingBoundary }
        return boundary
    }

    /// Reads one piece of the body and returns what it completed, in order.
    mutating func read(_ piece: ByteBuffer) throws(MultipartError) -> [Event] {
        if state == .epilogue { return [] }
        // Everything before the reader index has been handed on or skipped; without this the buffer would keep
        // the whole upload.
        pending.discardReadBytes()
        pending.writeImmutableBuffer(piece)
        var events: [Event] = []
        while try advance(into: &events) {}
        return events
    }

    /// Called at the end of the body: a form that stops before its closing boundary was cut off.
    func finish() throws(MultipartError) {
        guard state == .epilogue else { throw .truncated }
    }

    /// Makes one step of progress; false when more bytes are needed.
    private mutating func advance(into events: inout [Event]) throws(MultipartError) -> Bool {
        switch state {
        case .preamble:
            guard let boundary = pending.offset(of: delimiter) else {
                holdBackPossibleDelimiter()
                return false
            }
            pending.moveReaderIndex(forwardBy: boundary + delimiter.count)
            state = .afterBoundary
            return true

        case .afterBoundary:
            guard pending.readableBytes >= 2 else { return false }
            if pending.starts(with: "--") {
                state = .epilogue
                pending.clear()
                return false
            }
            // RFC 2046 allows spaces and tabs between the boundary and its line end.
            guard let lineEnd = pending.offset(of: Self.lineEnd) else {
                if pending.readableBytes > 80 { throw .malformedBoundaryLine }
                return false
            }
            let padding = pending.readableBytesView.prefix(lineEnd)
            guard padding.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) else {
                throw .malformedBoundaryLine
            }
            pending.moveReaderIndex(forwardBy: lineEnd + Self.lineEnd.count)
            state = .partHeader
            return true

        case .partHeader:
            // A part with no header lines starts straight with the blank line.
            let headerEnd: Int
            let blockLength: Int
            if pending.starts(with: "\r\n") {
                (headerEnd, blockLength) = (0, 2)
            } else if let end = pending.offset(of: Self.headerEnd) {
                (headerEnd, blockLength) = (end, end + Self.headerEnd.count)
            } else {
                if pending.readableBytes > Self.maxHeaderBytes { throw .partHeaderTooLarge }
                return false
            }
            guard headerEnd <= Self.maxHeaderBytes else { throw .partHeaderTooLarge }
            let block = String(decoding: pending.readableBytesView.prefix(headerEnd), as: UTF8.self)
            pending.moveReaderIndex(forwardBy: blockLength)
            events.append(.partBegan(FormPart(headerBlock: block)))
            state = .partContents
            return true

        case .partContents:
            guard let boundary = pending.offset(of: delimiter) else {
                if let contents = holdBackPossibleDelimiter() { events.append(.bytes(contents)) }
                return false
            }
            if boundary > 0 { events.append(.bytes(pending.readSlice(length: boundary)!)) }
            pending.moveReaderIndex(forwardBy: delimiter.count)
            events.append(.partEnded)
            state = .afterBoundary
            return true

        case .epilogue:
            return false
        }
    }

    /// Takes all but the last `delimiter.count - 1` bytes, which may be the start of a delimiter.
    @discardableResult
    private mutating func holdBackPossibleDelimiter() -> ByteBuffer? {
        let settled = pending.readableBytes - (delimiter.count - 1)
        guard settled > 0 else { return nil }
        return pending.readSlice(length: settled)
    }

    private static let lineEnd: [UInt8] = Array("\r\n".utf8)
    private static let headerEnd: [UInt8] = Array("\r\n\r\n".utf8)
}

/// Why a `multipart/form-data` body was refused; each is the client's mistake (400).
enum MultipartError: Error, Equatable, CustomStringConvertible {
    case missingBoundary
    case malformedBoundaryLine
    case partHeaderTooLarge
    case truncated

    var description: String {
        switch self {
        case .missingBoundary: "multipart/form-data needs a boundary parameter of 1 to 70 characters"
        case .malformedBoundaryLine: "a multipart boundary is followed by something other than a line end"
        case .partHeaderTooLarge: "a multipart part header is longer than \(MultipartReader.maxHeaderBytes) bytes"
        case .truncated: "the multipart body ends before its closing boundary"
        }
    }
}

extension ByteBuffer {
    /// Where `needle` first starts in the readable bytes, relative to the reader index. It runs over every
    /// uploaded byte, so `memchr` finds each candidate first byte (a CR, rare in most files) and `memcmp` checks it.
    fileprivate func offset(of needle: [UInt8]) -> Int? {
        withUnsafeReadableBytes { haystack in
            needle.withUnsafeBytes { needle in
                guard let base = haystack.baseAddress, haystack.count >= needle.count else { return nil }
                let lastStart = haystack.count - needle.count
                var start = 0
                while start <= lastStart,
                    let candidate = memchr(base + start, Int32(needle[0]), lastStart - start + 1)
                {
                    let offset = base.distance(to: UnsafeRawPointer(candidate))
                    if memcmp(candidate, needle.baseAddress!, needle.count) == 0 { return offset }
                    start = offset + 1
                }
                return nil
            }
        }
    }

    fileprivate func starts(with prefix: StaticString) -> Bool {
        guard readableBytes >= prefix.utf8CodeUnitCount else { return false }
        return readableBytesView.prefix(prefix.utf8CodeUnitCount).elementsEqual(
            UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
    }
}
