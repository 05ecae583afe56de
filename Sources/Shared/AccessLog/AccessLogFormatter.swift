import NIOCore

/// Writes access log lines in nginx's `combined` format plus request time, or as JSON objects.
///
/// combined, the nginx `combined` line with `$request_time` appended, so tools that read combined logs keep working:
///
///     $remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
///     $request_time
///
/// (one line, one space between the user agent and the time).
/// Proxied requests add `upstream=ADDRESS upstream_status=CODE upstream_time=SECONDS request_id=ID` after it, and
/// requests that came over TLS end in `scheme=https` (plain-HTTP lines stay exactly nginx's).
public enum AccessLogFormatter {
    /// Appends one line for `entry`, ending in a newline.
    public static func write(_ entry: AccessLogEntry, format: AccessLogFormat, into buffer: inout ByteBuffer) {
        switch format {
        case .combined: writeCombined(entry, into: &buffer)
        case .json: writeJSON(entry, into: &buffer)
        }
    }

    private static func writeCombined(_ entry: AccessLogEntry, into buffer: inout ByteBuffer) {
        buffer.writeString(entry.remoteAddress)
        buffer.writeStaticString(" - - [")
        buffer.writeString(entry.time)
        buffer.writeStaticString("] \"")
        writeEscaped(entry.method, into: &buffer)
        buffer.writeStaticString(" ")
        writeEscaped(entry.uri, into: &buffer)
        buffer.writeStaticString(" ")
        buffer.writeString(entry.version)
        buffer.writeStaticString("\" ")
        writeDecimal(entry.status, into: &buffer)
        buffer.writeStaticString(" ")
        writeDecimal(entry.bodyBytesSent, into: &buffer)
        buffer.writeStaticString(" \"")
        writeEscaped(entry.referer ?? "-", into: &buffer)
        buffer.writeStaticString("\" \"")
        writeEscaped(entry.userAgent ?? "-", into: &buffer)
        buffer.writeStaticString("\" ")
        writeSeconds(entry.requestTime, into: &buffer)
        if let upstream = entry.upstream {
            buffer.writeStaticString(" upstream=")
            writeEscaped(upstream.address, into: &buffer)
            buffer.writeStaticString(" upstream_status=")
            writeDecimal(upstream.status, into: &buffer)
            buffer.writeStaticString(" upstream_time=")
            writeSeconds(upstream.seconds, into: &buffer)
        }
        if let requestID = entry.requestID {
            buffer.writeStaticString(" request_id=")
            writeEscaped(requestID, into: &buffer)
        }
        if let traceID = entry.traceID {
            buffer.writeStaticString(" trace_id=")
            writeEscaped(traceID, into: &buffer)
        }
        if entry.scheme != "http" {
            buffer.writeStaticString(" scheme=")
            writeEscaped(entry.scheme, into: &buffer)
        }
        buffer.writeStaticString("\n")
    }

    private static func writeJSON(_ entry: AccessLogEntry, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"time\":")
        writeJSONString(entry.time, into: &buffer)
        buffer.writeStaticString(",\"remote_addr\":")
        writeJSONString(entry.remoteAddress, into: &buffer)
        buffer.writeStaticString(",\"method\":")
        writeJSONString(entry.method, into: &buffer)
        buffer.writeStaticString(",\"uri\":")
        writeJSONString(entry.uri, into: &buffer)
        buffer.writeStaticString(",\"scheme\":")
        writeJSONString(entry.scheme, into: &buffer)
        buffer.writeStaticString(",\"protocol\":")
        writeJSONString(entry.version, into: &buffer)
        buffer.writeStaticString(",\"status\":")
        writeDecimal(entry.status, into: &buffer)
        buffer.writeStaticString(",\"body_bytes_sent\":")
        writeDecimal(entry.bodyBytesSent, into: &buffer)
        buffer.writeStaticString(",\"referer\":")
        writeJSONString(entry.referer ?? "", into: &buffer)
        buffer.writeStaticString(",\"user_agent\":")
        writeJSONString(entry.userAgent ?? "", into: &buffer)
        buffer.writeStaticString(",\"request_time\":")
        writeSeconds(entry.requestTime, into: &buffer)
        if let upstream = entry.upstream {
            buffer.writeStaticString(",\"upstream\":")
            writeJSONString(upstream.address, into: &buffer)
            buffer.writeStaticString(",\"upstream_status\":")
            writeDecimal(upstream.status, into: &buffer)
            buffer.writeStaticString(",\"upstream_time\":")
            writeSeconds(upstream.seconds, into: &buffer)
        }
        if let requestID = entry.requestID {
            buffer.writeStaticString(",\"request_id\":")
            writeJSONString(requestID, into: &buffer)
        }
        if let traceID = entry.traceID {
            buffer.writeStaticString(",\"trace_id\":")
            writeJSONString(traceID, into: &buffer)
        }
        buffer.writeStaticString("}\n")
    }

    // Every request writes a line, so the writers below work on bytes: the first version appended byte by byte and
    // made `String`s for numbers, and a proxied request's line cost 18,000 instructions.

    /// `0.003`: seconds with millisecond precision, like nginx.
    static func formatSeconds(_ seconds: Double) -> String {
        var buffer = ByteBuffer()
        writeSeconds(seconds, into: &buffer)
        return String(buffer: buffer)
    }

    private static func writeSeconds(_ seconds: Double, into buffer: inout ByteBuffer) {
        let millis = max(0, Int((seconds * 1000).rounded()))
        writeDecimal(millis / 1000, into: &buffer)
        let fraction = millis % 1000
        buffer.writeMultipleIntegers(
            UInt8(ascii: "."), UInt8(ascii: "0") + UInt8(fraction / 100), UInt8(ascii: "0") + UInt8(fraction / 10 % 10),
            UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    /// A non-negative integer in decimal, without making a `String`.
    private static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        guard value >= 0 else {
            buffer.writeString(String(value))
            return
        }
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { space in
            var remaining = value
            for position in stride(from: digits - 1, through: 0, by: -1) {
                space[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            return digits
        }
    }

    /// nginx-style escaping: `"`, `\` and bytes outside printable ASCII become `\xHH`, so a client cannot forge
    /// log fields or inject terminal escapes. A value with nothing to escape, nearly every one, is copied whole.
    private static func writeEscaped(_ text: String, into buffer: inout ByteBuffer) {
        @inline(__always) func needsEscape(_ byte: UInt8) -> Bool {
            byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
        }
        let copied: Bool? = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: needsEscape) else { return false }
            buffer.writeBytes(UnsafeRawBufferPointer(bytes))
            return true
        }
        if copied == true { return }
        for byte in text.utf8 {
            if needsEscape(byte) {
                buffer.writeMultipleIntegers(
                    UInt8(ascii: "\\"), UInt8(ascii: "x"), JSONText.hexDigit(byte >> 4), JSONText.hexDigit(byte & 0xF))
            } else {
                buffer.writeInteger(byte)
            }
        }
    }

    private static func writeJSONString(_ text: String, into buffer: inout ByteBuffer) {
        JSONText.write(text, into: &buffer)
    }
}
