import NIOCore
import Shared

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The header half of compression: rewrites encoded header lines (`Name: value\r\n` each) for a decision.
///
/// - `varyOnly`: `Accept-Encoding` joins the first `Vary` line (unless one of them names it or is `*`), or a `Vary`
///   is added.
/// - `gzip`: as above, plus `Content-Encoding: gzip`; `Content-Length` and `Accept-Ranges` go (the length is the
///   uncompressed one, and ranges are served from the uncompressed bytes), and so does a `Content-Encoding:
///   identity` (which says nothing, and would read as a second coding); a strong `ETag` becomes weak (`W/`), so no
///   cache takes the gzipped bytes for the identity ones, while `If-None-Match` still matches it.
public enum GzipHeaderFilter {
    /// Copies `lines` into `output`, rewritten for `decision`. A status line at the front is copied as is.
    public static func rewrite(_ lines: ByteBuffer, for decision: CompressionDecision, into output: inout ByteBuffer) {
        guard decision != .untouched else {
            output.writeImmutableBuffer(lines)
            return
        }
        /// Set once a `Vary` line names `Accept-Encoding`, or has been made to.
        var varyCovered = false
        lines.withUnsafeReadableBytes { raw in
            var start = 0
            while start < raw.count {
                let line = line(in: raw, at: start)
                start = line.next
                guard let (name, value) = field(line.bytes) else {
                    output.writeBytes(line.bytes)  // the status line
                    continue
                }
                if ASCII.equalsIgnoringCase(name, "vary") {
                    output.writeBytes(name)
                    output.writeStaticString(": ")
                    output.writeBytes(value)
                    // Looked for further on only when needed: responses rarely carry several `Vary` lines.
                    if !varyCovered && !varyCoversAcceptEncoding(value)
                        && !laterVaryCoversAcceptEncoding(raw, from: start)
                    {
                        output.writeStaticString(", Accept-Encoding")
                    }
                    varyCovered = true
                    output.writeStaticString("\r\n")
                    continue
                }
                guard decision == .gzip else {
                    output.writeBytes(line.bytes)
                    continue
                }
                if ASCII.equalsIgnoringCase(name, "content-length") || ASCII.equalsIgnoringCase(name, "accept-ranges") {
                    continue
                }
                // `identity` (any other coding is never gzipped again).
                if ASCII.equalsIgnoringCase(name, "content-encoding") { continue }
                if ASCII.equalsIgnoringCase(name, "etag"), value.first == UInt8(ascii: "\"") {
                    output.writeStaticString("ETag: W/")
                    output.writeBytes(value)
                    output.writeStaticString("\r\n")
                    continue
                }
                output.writeBytes(line.bytes)
            }
        }
        if !varyCovered { output.writeStaticString("Vary: Accept-Encoding\r\n") }
        if decision == .gzip { output.writeStaticString("Content-Encoding: gzip\r\n") }
    }

    /// The line that starts at `start`, its line end included, and where the next one starts.
    private static func line(
        in raw: UnsafeRawBufferPointer, at start: Int
    ) -> (bytes: UnsafeRawBufferPointer, next: Int) {
        // Found with memchr (`HTTP1Scanning`): the generic `firstIndex(of:)` over buffer slices cost several
        // instructions a byte, the larger part of this filter's cost.
        let end = HTTP1Scanning.index(of: UInt8(ascii: "\n"), in: raw, from: start).map { $0 + 1 } ?? raw.count
        return (UnsafeRawBufferPointer(rebasing: raw[start..<end]), end)
    }

    /// A field line's name and its value without the whitespace and line end around it; `nil` for the status line.
    private static func field(_ line: UnsafeRawBufferPointer) -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer)? {
        guard let colon = HTTP1Scanning.index(of: UInt8(ascii: ":"), in: line, from: 0), !isStatusLine(line) else {
            return nil
        }
        let value = trimmedValue(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))
        return (UnsafeRawBufferPointer(rebasing: line[..<colon]), value)
    }

    private static func isStatusLine(_ line: UnsafeRawBufferPointer) -> Bool {
        line.count >= 5 && memcmp(line.baseAddress!, "HTTP/", 5) == 0
    }

    /// `raw` without its line end and the whitespace around it.
    private static func trimmedValue(_ raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var end = raw.count
        while end > 0 && (raw[end - 1] == 0x0D || raw[end - 1] == 0x0A) { end -= 1 }
        return ASCII.trimmingBlanks(UnsafeRawBufferPointer(rebasing: raw[..<end]))
    }

    /// Whether a `Vary` line after `start` names `Accept-Encoding` (or is `*`), so the one at hand needs nothing
    /// added.
    private static func laterVaryCoversAcceptEncoding(_ raw: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var start = start
        while start < raw.count {
            let line = line(in: raw, at: start)
            start = line.next
            guard let (name, value) = field(line.bytes), ASCII.equalsIgnoringCase(name, "vary") else { continue }
            if varyCoversAcceptEncoding(value) { return true }
        }
        return false
    }

    private static func varyCoversAcceptEncoding(_ value: UnsafeRawBufferPointer) -> Bool {
        value.split(separator: UInt8(ascii: ",")).contains { member in
            let token = trimmedValue(UnsafeRawBufferPointer(rebasing: member))
            return ASCII.equalsIgnoringCase(token, "accept-encoding") || ASCII.equalsIgnoringCase(token, "*")
        }
    }
}
