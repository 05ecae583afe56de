#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

import NIOCore
import Shared

/// The header half of compression: rewrites encoded header lines (`Name: value\r\n` each) for a decision.
///
/// - `varyOnly`: `Accept-Encoding` joins an existing `Vary` (unless it names it or is `*`), or a `Vary` is added.
/// - `gzip`: as above, plus `Content-Encoding: gzip`; `Content-Length` and `Accept-Ranges` go (the length is the
///   uncompressed one, and ranges are served from the uncompressed bytes); a strong `ETag` becomes weak (`W/`), so
///   no cache takes the gzipped bytes for the identity ones, while `If-None-Match` still matches it.
public enum GzipHeaderFilter {
    /// Copies `lines` into `output`, rewritten for `decision`. A status line at the front is copied as is.
    public static func rewrite(_ lines: ByteBuffer, for decision: CompressionDecision, into output: inout ByteBuffer) {
        guard decision != .untouched else {
            output.writeImmutableBuffer(lines)
            return
        }
        var sawVary = false
        lines.withUnsafeReadableBytes { raw in
            var start = 0
            while start < raw.count {
                // Found with memchr (`HTTP1Scanning`): the generic `firstIndex(of:)` over buffer slices cost several
                // instructions a byte, the larger part of this filter's cost.
                let end = HTTP1Scanning.index(of: UInt8(ascii: "\n"), in: raw, from: start).map { $0 + 1 } ?? raw.count
                let line = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                start = end
                guard let colon = HTTP1Scanning.index(of: UInt8(ascii: ":"), in: line, from: 0), !isStatusLine(line) else {
                    output.writeBytes(line)  // the status line
                    continue
                }
                let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
                let value = trimmedValue(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))
                if ASCII.equalsIgnoringCase(name, "vary") {
                    sawVary = true
                    output.writeBytes(name)
                    output.writeStaticString(": ")
                    output.writeBytes(value)
                    if !varyCoversAcceptEncoding(value) { output.writeStaticString(", Accept-Encoding") }
                    output.writeStaticString("\r\n")
                    continue
                }
                guard decision == .gzip else {
                    output.writeBytes(line)
                    continue
                }
                if ASCII.equalsIgnoringCase(name, "content-length") || ASCII.equalsIgnoringCase(name, "accept-ranges") {
                    continue
                }
                if ASCII.equalsIgnoringCase(name, "etag"), value.first == UInt8(ascii: "\"") {
                    output.writeStaticString("ETag: W/")
                    output.writeBytes(value)
                    output.writeStaticString("\r\n")
                    continue
                }
                output.writeBytes(line)
            }
        }
        if !sawVary { output.writeStaticString("Vary: Accept-Encoding\r\n") }
        if decision == .gzip { output.writeStaticString("Content-Encoding: gzip\r\n") }
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

    private static func varyCoversAcceptEncoding(_ value: UnsafeRawBufferPointer) -> Bool {
        value.split(separator: UInt8(ascii: ",")).contains { member in
            let token = trimmedValue(UnsafeRawBufferPointer(rebasing: member))
            return ASCII.equalsIgnoringCase(token, "accept-encoding") || ASCII.equalsIgnoringCase(token, "*")
        }
    }
}
