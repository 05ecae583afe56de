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
    ///
    /// Every request writes a line, so it is written in one piece into room reserved for it (`LineWriter`): the
    /// first version appended byte by byte and made `String`s for numbers (18,000 instructions for a proxied
    /// request's line), the next wrote each piece to the `ByteBuffer` (10,000).
    public static func write(_ entry: AccessLogEntry, format: AccessLogFormat, into buffer: inout ByteBuffer) {
        LineWriter.write(into: &buffer, room: room(for: entry)) { line in
            switch format {
            case .combined: writeCombined(entry, into: &line)
            case .json: writeJSON(entry, into: &line)
            }
        }
    }

    /// The most a line for `entry` can take: its text fields escaped at worst, its numbers at their longest, and
    /// the literals of the longer format (JSON's field names).
    private static func room(for entry: AccessLogEntry) -> Int {
        var text = entry.remoteAddress.utf8.count + entry.time.utf8.count + entry.method.utf8.count
        text += entry.uri.utf8.count + entry.version.utf8.count + entry.scheme.utf8.count
        text += (entry.referer?.utf8.count ?? 1) + (entry.userAgent?.utf8.count ?? 1)
        text += (entry.upstream?.address.utf8.count ?? 0) + (entry.requestID?.utf8.count ?? 0)
        text += entry.traceID?.utf8.count ?? 0
        // Five numbers of at most 24 bytes, and about 250 bytes of JSON field names and punctuation.
        return LineWriter.room(forText: text, fixedBytes: 5 * 24 + 320)
    }

    private static func writeCombined(_ entry: AccessLogEntry, into line: inout LineWriter) {
        line.append(entry.remoteAddress)
        line.append(" - - [")
        line.append(entry.time)
        line.append("] \"")
        line.appendEscaped(entry.method)
        line.append(UInt8(ascii: " "))
        line.appendEscaped(entry.uri)
        line.append(UInt8(ascii: " "))
        line.append(entry.version)
        line.append("\" ")
        line.appendDecimal(entry.status)
        line.append(UInt8(ascii: " "))
        line.appendDecimal(entry.bodyBytesSent)
        line.append(" \"")
        line.appendEscaped(entry.referer ?? "-")
        line.append("\" \"")
        line.appendEscaped(entry.userAgent ?? "-")
        line.append("\" ")
        line.appendSeconds(entry.requestTime)
        if let upstream = entry.upstream {
            line.append(" upstream=")
            line.appendEscaped(upstream.address)
            line.append(" upstream_status=")
            line.appendDecimal(upstream.status)
            line.append(" upstream_time=")
            line.appendSeconds(upstream.seconds)
        }
        if let requestID = entry.requestID {
            line.append(" request_id=")
            line.appendEscaped(requestID)
        }
        if let traceID = entry.traceID {
            line.append(" trace_id=")
            line.appendEscaped(traceID)
        }
        if entry.scheme != "http" {
            line.append(" scheme=")
            line.appendEscaped(entry.scheme)
        }
        line.append(UInt8(ascii: "\n"))
    }

    private static func writeJSON(_ entry: AccessLogEntry, into line: inout LineWriter) {
        line.append("{\"time\":")
        line.appendJSONString(entry.time)
        line.append(",\"remote_addr\":")
        line.appendJSONString(entry.remoteAddress)
        line.append(",\"method\":")
        line.appendJSONString(entry.method)
        line.append(",\"uri\":")
        line.appendJSONString(entry.uri)
        line.append(",\"scheme\":")
        line.appendJSONString(entry.scheme)
        line.append(",\"protocol\":")
        line.appendJSONString(entry.version)
        line.append(",\"status\":")
        line.appendDecimal(entry.status)
        line.append(",\"body_bytes_sent\":")
        line.appendDecimal(entry.bodyBytesSent)
        line.append(",\"referer\":")
        line.appendJSONString(entry.referer ?? "")
        line.append(",\"user_agent\":")
        line.appendJSONString(entry.userAgent ?? "")
        line.append(",\"request_time\":")
        line.appendSeconds(entry.requestTime)
        if let upstream = entry.upstream {
            line.append(",\"upstream\":")
            line.appendJSONString(upstream.address)
            line.append(",\"upstream_status\":")
            line.appendDecimal(upstream.status)
            line.append(",\"upstream_time\":")
            line.appendSeconds(upstream.seconds)
        }
        if let requestID = entry.requestID {
            line.append(",\"request_id\":")
            line.appendJSONString(requestID)
        }
        if let traceID = entry.traceID {
            line.append(",\"trace_id\":")
            line.appendJSONString(traceID)
        }
        line.append("}\n")
    }

    /// `0.003`: seconds with millisecond precision, like nginx.
    static func formatSeconds(_ seconds: Double) -> String {
        var buffer = ByteBuffer()
        LineWriter.write(into: &buffer, room: 24) { $0.appendSeconds(seconds) }
        return String(buffer: buffer)
    }
}
