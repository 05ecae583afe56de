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

    /// Connection-specific fields, meaningless (and forbidden) in HTTP/2 and never passed on.
    static let connectionSpecific: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]

    /// `nil` when the request is malformed: pseudo-fields missing, unknown or after regular fields, `CONNECT`, or a
    /// name or value with characters that could split an HTTP/1 head.
    static func http1Request(from fields: HPACKHeaders, hasBody: Bool) -> HTTP1Request? {
        var method: String?
        var path: String?
        var authority: String?
        var scheme: String?
        var lines = ""
        var cookies: [String] = []
        var hasHost = false
        var hasContentLength = false
        var sawRegularField = false
        for (name, value, _) in fields {
            guard isSafe(name), isSafe(value), !name.isEmpty else { return nil }
            if name.hasPrefix(":") {
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
            guard name == name.lowercased() else { return nil }
            if connectionSpecific.contains(name) { continue }
            if name == "te" {
                // Only `te: trailers` is allowed in HTTP/2, and it means nothing to the HTTP/1 side.
                continue
            }
            if name == "cookie" {
                // HTTP/2 may split cookies into several fields; HTTP/1 wants one, joined by "; " (RFC 9113 §8.2.3).
                cookies.append(value)
                continue
            }
            if name == "host" { hasHost = true }
            if name == "content-length" { hasContentLength = true }
            lines += "\(name): \(value)\r\n"
        }
        guard let method, let path, scheme != nil, method != "CONNECT", path.first == "/" || (method == "OPTIONS" && path == "*")
        else { return nil }
        if !hasHost {
            guard let authority else { return nil }
            lines = "host: \(authority)\r\n" + lines
        }
        if !cookies.isEmpty { lines += "cookie: \(cookies.joined(separator: "; "))\r\n" }
        let chunked = hasBody && !hasContentLength
        if chunked { lines += "transfer-encoding: chunked\r\n" }
        // One request per stream: the HTTP/1 side closes the stream when the response is done.
        lines += "connection: close\r\n"
        return HTTP1Request(text: "\(method) \(path) HTTP/1.1\r\n\(lines)\r\n", chunkedBody: chunked, isHEAD: method == "HEAD")
    }

    /// `:status` and the response's fields, lower-cased, without the connection-specific ones.
    static func http2ResponseFields(_ head: ResponseHead) -> HPACKHeaders {
        var fields = HPACKHeaders()
        fields.reserveCapacity(head.headers.count + 1)
        fields.add(name: ":status", value: String(head.status))
        head.headers.forEachNameAndValue { name, value in
            // Lower-cased while decoding: one String per name instead of two.
            let lowered = String(unsafeUninitializedCapacity: name.count) { out in
                for (index, byte) in name.enumerated() {
                    out[index] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                }
                return name.count
            }
            if connectionSpecific.contains(lowered) { return }
            fields.add(name: lowered, value: String(decoding: value, as: UTF8.self))
        }
        return fields
    }

    /// No CR, LF or NUL: HTTP/2 carries them in binary, HTTP/1 would read them as a line break.
    private static func isSafe(_ text: String) -> Bool {
        !text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }
}
