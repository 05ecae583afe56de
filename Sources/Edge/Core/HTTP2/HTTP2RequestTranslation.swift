import NIOHPACK
import Shared

/// The pure halves of `HTTP2StreamBridge`: an HTTP/2 request's fields as an HTTP/1.1 request head, and an HTTP/1.1
/// response head as HTTP/2 fields (RFC 9113 §8.2.2 and §8.3).
enum HTTP2RequestTranslation {
    /// An HTTP/1.1 request head made from HTTP/2 fields.
    struct HTTP1Request: Equatable {
        /// The head, ending with the blank line.
        var text: String
        /// Whether the body (if any) is sent as chunks because no `content-length` announced it.
        var chunkedBody: Bool
        var isHEAD: Bool
    }

    /// `nil` when the request is malformed: pseudo-fields missing, unknown or after regular fields, `CONNECT`, or a
    /// name or value with characters that could split an HTTP/1 head.
    static func http1Request(from fields: HPACKHeaders, hasBody: Bool) -> HTTP1Request? {
        var method: String?
        var path: String?
        var authority: String?
        var scheme: String?
        var lines = ""
        lines.reserveCapacity(256)
        var cookies: [String] = []
        var hasHost = false
        var hasContentLength = false
        var sawRegularField = false
        for (name, value, _) in fields {
            guard isSafe(name), isSafe(value), !name.isEmpty else { return nil }
            if name.utf8.first == UInt8(ascii: ":") {
                guard !sawRegularField else { return nil }
                switch name {
                case ":method": method = value
                case ":path": path = value
                case ":authority": authority = value
                case ":scheme": scheme = value
                default: return nil
                }
                continue
            }
            sawRegularField = true
            guard !name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return nil }
            switch name {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
                continue  // connection-specific: meaningless (and forbidden) in HTTP/2, never passed on
            case "te":
                // Only `te: trailers` is allowed in HTTP/2, and it means nothing to the HTTP/1 side.
                continue
            case "cookie":
                // HTTP/2 may split cookies into several fields; HTTP/1 wants one, joined by "; " (RFC 9113 §8.2.3).
                cookies.append(value)
                continue
            case "host": hasHost = true
            case "content-length": hasContentLength = true
            default: break
            }
            lines.append(name)
            lines.append(": ")
            lines.append(value)
            lines.append("\r\n")
        }
        guard let method, let path, scheme != nil, method != "CONNECT",
            path.first == "/" || (method == "OPTIONS" && path == "*")
        else { return nil }
        var text = method
        text.reserveCapacity(method.utf8.count + path.utf8.count + lines.utf8.count + 64)
        text.append(" ")
        text.append(path)
        text.append(" HTTP/1.1\r\n")
        if !hasHost {
            guard let authority else { return nil }
            text.append("host: ")
            text.append(authority)
            text.append("\r\n")
        }
        text.append(lines)
        if !cookies.isEmpty { text.append("cookie: \(cookies.joined(separator: "; "))\r\n") }
        let chunked = hasBody && !hasContentLength
        if chunked { text.append("transfer-encoding: chunked\r\n") }
        // One request per stream: the HTTP/1 side closes the stream when the response is done.
        text.append("connection: close\r\n\r\n")
        return HTTP1Request(text: text, chunkedBody: chunked, isHEAD: method == "HEAD")
    }

    /// `:status` and the response's fields, lower-cased, without the connection-specific ones.
    static func http2ResponseFields(_ head: ResponseHead) -> HPACKHeaders {
        var fields = HPACKHeaders()
        fields.reserveCapacity(head.headers.count + 1)
        fields.add(name: ":status", value: String(head.status))
        head.headers.forEachNameAndValue { name, value in
            // Connection-specific fields must not appear in HTTP/2 (RFC 9113 §8.2.2). The proxy's hop-by-hop set
            // also has `te` and `trailer`, which never reach here: Edge writes neither, and drops both from upstream
            // responses.
            if ProxyHeaders.isHopByHop(name) { return }
            // Lower-cased while decoding: one String per name instead of two.
            let lowered = String(unsafeUninitializedCapacity: name.count) { out in
                for (index, byte) in name.enumerated() {
                    out[index] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                }
                return name.count
            }
            fields.add(name: lowered, value: String(decoding: value, as: UTF8.self))
        }
        return fields
    }

    /// No CR, LF or NUL: HTTP/2 carries them in binary, HTTP/1 would read them as a line break.
    private static func isSafe(_ text: String) -> Bool {
        !text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }
}
