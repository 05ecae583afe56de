import NIOCore
import NIOHPACK
import Shared

/// The pure halves of `HTTP2StreamBridge`: an HTTP/2 request's fields as an HTTP/1.1 request head, and an HTTP/1.1
/// response head as HTTP/2 fields (RFC 9113 §8.2.2 and §8.3).
enum HTTP2RequestTranslation {
    /// An HTTP/1.1 request head made from HTTP/2 fields.
    struct HTTP1Request: Equatable {
        /// The head, ending with the blank line.
        var bytes: ByteBuffer
        /// Whether the body (if any) is sent as chunks because no `content-length` announced it.
        var chunkedBody: Bool
        var isHEAD: Bool

        var text: String { String(buffer: bytes) }
    }

    /// `nil` when the request is malformed (RFC 9113 §8.2, §8.3.1): pseudo-fields missing, repeated, unknown or after
    /// regular fields, `CONNECT`, a name that is not a lower-case token, a value with NUL, CR or LF (or, in a
    /// pseudo-field, a space or control character), or a connection-specific field.
    ///
    /// NIO's own check of header blocks is off (it cost a tenth of an HTTP/2 request): this is the check.
    ///
    /// The head is written as bytes, request line first: pseudo-fields come before regular ones, so the request line
    /// is known when the first regular field is. (Built as a `String` and copied, it cost a third more.)
    static func http1Request(from fields: HPACKHeaders, hasBody: Bool) -> HTTP1Request? {
        var method: String?
        var path: String?
        var authority: String?
        var scheme: String?
        var bytes = ByteBuffer()
        var startedHead = false
        var cookies: [String] = []
        var hasContentLength = false
        for (name, value, _) in fields {
            if name.utf8.first == UInt8(ascii: ":") {
                guard !startedHead, isPseudoFieldValue(value) else { return nil }
                switch name {
                case ":method" where method == nil: method = value
                case ":path" where path == nil: path = value
                case ":authority" where authority == nil: authority = value
                case ":scheme" where scheme == nil: scheme = value
                default: return nil  // unknown, or a second one
                }
                continue
            }
            guard isRegularField(name: name, value: value) else { return nil }
            if !startedHead {
                guard startHead(method: method, path: path, scheme: scheme, authority: authority, fields, &bytes)
                else { return nil }
                startedHead = true
            }
            switch name {
            case "te":
                // Only `te: trailers` is allowed in HTTP/2, and it means nothing to the HTTP/1 side.
                continue
            case "cookie":
                // HTTP/2 may split cookies into several fields; HTTP/1 wants one, joined by "; " (RFC 9113 §8.2.3).
                cookies.append(value)
                continue
            case "content-length": hasContentLength = true
            default: break
            }
            bytes.writeString(name)
            bytes.writeStaticString(": ")
            bytes.writeString(value)
            bytes.writeStaticString("\r\n")
        }
        if !startedHead {
            guard startHead(method: method, path: path, scheme: scheme, authority: authority, fields, &bytes)
            else { return nil }
        }
        if !cookies.isEmpty {
            bytes.writeStaticString("cookie: ")
            bytes.writeString(cookies.joined(separator: "; "))
            bytes.writeStaticString("\r\n")
        }
        let chunked = hasBody && !hasContentLength
        if chunked { bytes.writeStaticString("transfer-encoding: chunked\r\n") }
        // One request per stream: the HTTP/1 side closes the stream when the response is done.
        bytes.writeStaticString("connection: close\r\n\r\n")
        return HTTP1Request(bytes: bytes, chunkedBody: chunked, isHEAD: method == "HEAD")
    }

    /// Writes the request line, and `host` from `:authority` when the fields have no `host` of their own; false for a
    /// request HTTP/1 cannot carry (no method, path or scheme, `CONNECT`, a path that is not origin-form).
    private static func startHead(
        method: String?, path: String?, scheme: String?, authority: String?, _ fields: HPACKHeaders,
        _ bytes: inout ByteBuffer
    ) -> Bool {
        guard let method, let path, scheme != nil, method != "CONNECT",
            path.utf8.first == UInt8(ascii: "/") || (method == "OPTIONS" && path == "*")
        else { return false }
        let hasHost = fields.contains(name: "host")
        if !hasHost && authority == nil { return false }
        bytes.reserveCapacity(method.utf8.count + path.utf8.count + (authority?.utf8.count ?? 0) + 256)
        bytes.writeString(method)
        bytes.writeStaticString(" ")
        bytes.writeString(path)
        bytes.writeStaticString(" HTTP/1.1\r\n")
        if !hasHost, let authority {
            bytes.writeStaticString("host: ")
            bytes.writeString(authority)
            bytes.writeStaticString("\r\n")
        }
        return true
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
            fields.add(name: lowered, value: String(decoding: value, as: UTF8.self), indexing: indexing(of: lowered))
        }
        return fields
    }

    /// Whether HPACK may keep a response field in the connection's table for later responses. A value new with
    /// every response (a request id) would only push out the ones that repeat, and NIO's encoder looks through the
    /// whole table for each field it writes: with the table full of request ids, encoding a proxied response's
    /// fields cost more than the rest of its way out. Cookies are never indexed, as RFC 7541 §7.1.3 advises for
    /// secrets a compression side channel could reveal.
    private static func indexing(of name: String) -> HPACKIndexing {
        switch name {
        case "x-request-id", "traceparent", "tracestate": .nonIndexable
        case "set-cookie": .neverIndexed
        default: .indexable
        }
    }

    /// Whether a trailer block may end a request body: regular fields only, valid as in a request's head.
    static func isValidTrailers(_ fields: HPACKHeaders) -> Bool {
        fields.allSatisfy { name, value, _ in isRegularField(name: name, value: value) }
    }

    /// A regular field HTTP/2 allows: a lower-case token for a name, a value without NUL, CR or LF (which HTTP/1
    /// would read as a line break), not a connection-specific field, and `te` only as `trailers`.
    private static func isRegularField(name: String, value: String) -> Bool {
        guard !name.isEmpty, name.utf8.allSatisfy(isLowerCaseTokenByte),
            !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 })
        else { return false }
        switch name {
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade": return false
        case "te": return value == "trailers"
        default: return true
        }
    }

    /// A pseudo-field's value has no space or control character: `:path` becomes the HTTP/1 request line.
    private static func isPseudoFieldValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 <= 0x20 || $0 == 0x7F }
    }

    /// RFC 9110's `tchar` without upper-case letters (RFC 9113 §8.2.1).
    private static func isLowerCaseTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x30...0x39, 0x5E...0x7A, 0x7C, 0x7E: true
        default: false
        }
    }
}
