import NIOCore

/// Writes access log lines in nginx's `combined` format plus request time, or as JSON objects.
///
/// combined: `$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time`
/// — the nginx `combined` line with `$request_time` appended, so tools that read combined logs keep working.
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
        buffer.writeString(String(entry.status))
        buffer.writeStaticString(" ")
        buffer.writeString(String(entry.bodyBytesSent))
        buffer.writeStaticString(" \"")
        writeEscaped(entry.referer ?? "-", into: &buffer)
        buffer.writeStaticString("\" \"")
        writeEscaped(entry.userAgent ?? "-", into: &buffer)
        buffer.writeStaticString("\" ")
        buffer.writeString(formatSeconds(entry.requestTime))
        if let upstream = entry.upstream {
            buffer.writeStaticString(" upstream=")
            writeEscaped(upstream.address, into: &buffer)
            buffer.writeString(" upstream_status=\(upstream.status) upstream_time=\(formatSeconds(upstream.seconds))")
        }
        if let requestID = entry.requestID {
            buffer.writeStaticString(" request_id=")
            writeEscaped(requestID, into: &buffer)
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
        buffer.writeString(",\"status\":\(entry.status),\"body_bytes_sent\":\(entry.bodyBytesSent),\"referer\":")
        writeJSONString(entry.referer ?? "", into: &buffer)
        buffer.writeStaticString(",\"user_agent\":")
        writeJSONString(entry.userAgent ?? "", into: &buffer)
        buffer.writeString(",\"request_time\":\(formatSeconds(entry.requestTime))")
        if let upstream = entry.upstream {
            buffer.writeStaticString(",\"upstream\":")
            writeJSONString(upstream.address, into: &buffer)
            buffer.writeString(",\"upstream_status\":\(upstream.status),\"upstream_time\":\(formatSeconds(upstream.seconds))")
        }
        if let requestID = entry.requestID {
            buffer.writeStaticString(",\"request_id\":")
            writeJSONString(requestID, into: &buffer)
        }
        buffer.writeStaticString("}\n")
    }

    /// `0.003`: seconds with millisecond precision, like nginx.
    static func formatSeconds(_ seconds: Double) -> String {
        let millis = Int((seconds * 1000).rounded())
        let fraction = millis % 1000
        return "\(millis / 1000)." + (fraction < 10 ? "00" : fraction < 100 ? "0" : "") + "\(fraction)"
    }

    /// nginx-style escaping: `"`, `\` and bytes outside printable ASCII become `\xHH`, so a client cannot forge
    /// log fields or inject terminal escapes.
    private static func writeEscaped(_ text: String, into buffer: inout ByteBuffer) {
        for byte in text.utf8 {
            if byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                buffer.writeStaticString("\\x")
                buffer.writeString(hexByte(byte))
            } else {
                buffer.writeInteger(byte)
            }
        }
    }

    private static func writeJSONString(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\"")
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0..<0x20, 0x7F: buffer.writeString("\\u00" + hexByte(byte))
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeStaticString("\"")
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
    }
}
