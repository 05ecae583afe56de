import NIOCore
import Shared

/// Who the client is, as Edge tells the upstream.
public struct ClientFacts: Sendable, Equatable {
    /// The client's address: the peer's, or the one a trusted peer reported (`real_ip`).
    public var address: String
    /// `X-Forwarded-For` to send: the trusted chain plus the peer, or just the client.
    public var forwardedFor: String
    public var scheme: String
    public var host: String?
    public var port: Int
    public var requestID: String
    /// The W3C trace context sent upstream (`trace_context`), if the request has one.
    var trace: ForwardedTrace?
    /// The peer is in `real_ip.trusted`: a CDN's own client-address fields (`CF-Connecting-IP`) are passed on.
    public var peerIsTrusted = false
}

/// The header rewriting of a reverse proxy (RFC 9110 §7.6): hop-by-hop fields never cross, forwarded fields are
/// set by Edge, and a client's own claims are believed only from `real_ip.trusted` peers.
public enum ProxyHeaders {
    /// The client facts for a request from `peer`, which is in `real_ip.trusted` when `trusted` (decided once per
    /// connection by the caller, with `RealIPConfig.trusts`).
    public static func clientFacts(
        peer: String, trusted: Bool, head: RequestHead, realIP: RealIPConfig, scheme: String, port: Int,
        traceContext: TraceContextMode = .pass, newRequestID: () -> String
    ) -> ClientFacts {
        let headers = head.headers
        // The chain is read once, for both the client's address and the forwarded chain.
        let chain = trusted ? forwardedChain(headers) : []
        let address = trusted ? claimedClientAddress(headers: headers, chain: chain, realIP: realIP) ?? peer : peer
        let forwardedFor = trusted ? (chain + [peer]).joined(separator: ", ") : peer
        var requestID = newRequestID()
        if trusted, let given = headers.first("x-request-id"), isWellFormedRequestID(given) { requestID = given }
        return ClientFacts(
            address: address, forwardedFor: forwardedFor, scheme: scheme, host: head.host, port: port,
            requestID: requestID, trace: ForwardedTrace.forRequest(headers, mode: traceContext),
            peerIsTrusted: trusted)
    }

    /// The address a trusted peer says the client has (in `real_ip.header`), if it says one that parses. With a
    /// trusted peer this is the client's address for the upstream and, as nginx's realip module does for
    /// `$remote_addr`, for the access log.
    public static func claimedClientAddress(headers: HeaderFields, realIP: RealIPConfig) -> String? {
        claimedClientAddress(headers: headers, chain: nil, realIP: realIP)
    }

    /// `claimedClientAddress(headers:realIP:)` with the `X-Forwarded-For` chain already read, if it was.
    private static func claimedClientAddress(headers: HeaderFields, chain: [String]?, realIP: RealIPConfig) -> String? {
        switch realIP.header {
        case .cfConnectingIP:
            let claimed = headers.first("cf-connecting-ip")?.trimmedOfWhitespace()
            return claimed.flatMap { CIDR.parseAddress($0) != nil ? $0 : nil }
        case .xForwardedFor:
            // Walk from the right past trusted proxies: the first untrusted hop is the client.
            var address: String?
            for hop in (chain ?? forwardedChain(headers)).reversed() {
                guard let parsed = CIDR.parseAddress(hop) else { continue }
                address = hop
                if !realIP.trusts(parsed) { break }
            }
            return address
        }
    }

    /// Every `X-Forwarded-For` hop, in order, across all the fields. Split on the UTF-8 bytes: splitting the
    /// `String` by `Character` cost 18,000 instructions for a two-hop chain.
    private static func forwardedChain(_ headers: HeaderFields) -> [String] {
        var hops: [String] = []
        for field in headers.all("x-forwarded-for") {
            for hop in field.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
                let trimmed = Substring(hop).trimmedOfWhitespace()
                if !trimmed.isEmpty { hops.append(trimmed) }
            }
        }
        return hops
    }

    /// `[A-Za-z0-9._-]`, 1 to 128 characters: anything else is replaced, so logs and upstreams never see injected text.
    static func isWellFormedRequestID(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { ASCII.isTokenByte($0) && $0 != UInt8(ascii: "|") }
    }

    /// Encodes the head to send upstream into `buffer`: the client's fields minus hop-by-hop and forwarded ones
    /// (compared as bytes, no `String` per field), then Edge's forwarded fields and framing.
    public static func writeUpstreamRequest(_ head: RequestHead, client: ClientFacts, into buffer: inout ByteBuffer) {
        var bytes = HeadBytes(capacity: head.headers.byteCount + head.target.utf8.count + 320)
        bytes.append(string: head.method.rawValue)
        bytes.append(" ")
        bytes.append(string: head.target)
        bytes.append(" HTTP/1.1\r\n")
        let named = head.connectionOptions
        // The host of an absolute-form target replaces the client's `Host` (RFC 9112 §3.2.2); the upstream gets the
        // origin form.
        let replacesHost = head.absoluteFormAuthority != nil
        if let authority = head.absoluteFormAuthority {
            bytes.append("Host: ")
            bytes.append(string: authority)
            bytes.append("\r\n")
        }
        head.headers.forEachNameAndValue { name, value in
            // Framing is Edge's to set (below), from the body it actually forwards.
            guard !isHopByHop(name), !isForwarded(name), !ASCII.equalsIgnoringCase(name, "content-length"),
                !ASCII.equalsIgnoringCase(name, "expect"), !isNamed(name, in: named),
                !(replacesHost && ASCII.equalsIgnoringCase(name, "host")),
                client.peerIsTrusted || !isCDNClientAddress(name)
            else { return }
            writeField(name, value, into: &bytes)
        }
        // An upgrade (WebSocket) is the one hop-by-hop exchange a proxy passes on, explicitly.
        if named.contains("upgrade"), let upgrade = head.headers.first("upgrade") {
            bytes.append("Connection: upgrade\r\nUpgrade: ")
            bytes.append(string: upgrade)
            bytes.append("\r\n")
        }
        bytes.append("X-Forwarded-For: ")
        bytes.append(string: client.forwardedFor)
        bytes.append("\r\nX-Forwarded-Proto: ")
        bytes.append(string: client.scheme)
        if let host = client.host {
            bytes.append("\r\nX-Forwarded-Host: ")
            bytes.append(string: host)
        }
        bytes.append("\r\nX-Forwarded-Port: ")
        bytes.append(decimal: client.port)
        bytes.append("\r\nX-Real-IP: ")
        bytes.append(string: client.address)
        bytes.append("\r\nX-Request-ID: ")
        bytes.append(string: client.requestID)
        bytes.append("\r\n")
        if let trace = client.trace {
            bytes.append("traceparent: ")
            bytes.append(string: trace.traceParent)
            bytes.append("\r\n")
            if let state = trace.traceState {
                bytes.append("tracestate: ")
                bytes.append(string: state)
                bytes.append("\r\n")
            }
        }
        switch head.bodyFraming {
        case .none, .length(0), .untilClose:
            switch head.method {  // matched by case: `==` on HTTPMethod builds strings
            case .POST, .PUT, .PATCH: bytes.append("Content-Length: 0\r\n")
            default: break
            }
        case .length(let length):
            bytes.append("Content-Length: ")
            bytes.append(decimal: length)
            bytes.append("\r\n")
        case .chunked:
            bytes.append("Transfer-Encoding: chunked\r\n")
        }
        bytes.append("\r\n")
        buffer.writeHead(bytes)
    }

    /// Copies the upstream response's field lines the client gets into `buffer` (hop-by-hop removed; Edge adds its
    /// own framing, `Date`, `Server` and `Connection`).
    public static func writeClientResponseFields(_ upstream: ResponseHead, into buffer: inout ByteBuffer) {
        var bytes = HeadBytes(capacity: upstream.headers.byteCount)
        writeClientResponseFields(upstream, into: &bytes)
        buffer.writeHead(bytes)
    }

    /// `writeClientResponseFields(_:into:)` appending to a head being built.
    public static func writeClientResponseFields(_ upstream: ResponseHead, into bytes: inout HeadBytes) {
        let named = upstream.connectionOptions
        // RFC 9110 §8.6: a 204 has no Content-Length; a client that believed an upstream's would wait for a body
        // that never comes (nginx drops it too).
        let dropsLength = upstream.status == 204
        upstream.headers.forEachNameAndValue { name, value in
            guard !isHopByHop(name), !ASCII.equalsIgnoringCase(name, "date"), !ASCII.equalsIgnoringCase(name, "server"),
                !isNamed(name, in: named), !(dropsLength && ASCII.equalsIgnoringCase(name, "content-length"))
            else { return }
            writeField(name, value, into: &bytes)
        }
    }

    private static func writeField(
        _ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, into bytes: inout HeadBytes
    ) {
        bytes.append(name)
        bytes.append(": ")
        bytes.append(value)
        bytes.append("\r\n")
    }

    /// RFC 9110 §7.6.1's connection-specific fields, plus the obsolete `Proxy-Connection`.
    static func isHopByHop(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 2: ASCII.equalsIgnoringCase(name, "te")
        case 7: ASCII.equalsIgnoringCase(name, "trailer") || ASCII.equalsIgnoringCase(name, "upgrade")
        case 10: ASCII.equalsIgnoringCase(name, "connection") || ASCII.equalsIgnoringCase(name, "keep-alive")
        case 16: ASCII.equalsIgnoringCase(name, "proxy-connection")
        case 17: ASCII.equalsIgnoringCase(name, "transfer-encoding")
        default: false
        }
    }

    /// Fields only Edge may set towards the upstream.
    static func isForwarded(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 9: ASCII.equalsIgnoringCase(name, "x-real-ip") || ASCII.equalsIgnoringCase(name, "forwarded")
        // The trace context goes on as validated (`ForwardedTrace`), never as the client wrote it.
        case 10: ASCII.equalsIgnoringCase(name, "tracestate")
        case 11: ASCII.equalsIgnoringCase(name, "traceparent")
        case 12: ASCII.equalsIgnoringCase(name, "x-request-id")
        case 15: ASCII.equalsIgnoringCase(name, "x-forwarded-for")
        case 16:
            ASCII.equalsIgnoringCase(name, "x-forwarded-host") || ASCII.equalsIgnoringCase(name, "x-forwarded-port")
        case 17: ASCII.equalsIgnoringCase(name, "x-forwarded-proto")
        default: false
        }
    }

    /// The fields in which a CDN names the visitor's address. Apps behind Cloudflare often read them directly, so
    /// they pass from a trusted peer; from anyone else they would be a forgery that reached the origin directly.
    static func isCDNClientAddress(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 14: ASCII.equalsIgnoringCase(name, "true-client-ip")
        case 16: ASCII.equalsIgnoringCase(name, "cf-connecting-ip")
        case 18: ASCII.equalsIgnoringCase(name, "cf-connecting-ipv6")
        default: false
        }
    }

    /// Whether `Connection` named this field (so it is hop-by-hop for this message).
    private static func isNamed(_ name: UnsafeRawBufferPointer, in options: [String]) -> Bool {
        guard !options.isEmpty else { return false }
        let lowered = String(decoding: name, as: UTF8.self).lowercased()
        return options.contains(lowered)
    }
}
