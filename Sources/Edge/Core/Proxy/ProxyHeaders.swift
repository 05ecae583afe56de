import NIOHTTP1
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
}

/// The header rewriting of a reverse proxy (RFC 9110 §7.6): hop-by-hop fields never cross, forwarded fields are
/// set by Edge, and a client's own claims are believed only from `real_ip.trusted` peers.
public enum ProxyHeaders {
    static let hopByHop: Set<String> = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection"]
    static let forwarded: Set<String> = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-real-ip", "x-request-id", "forwarded"]

    /// The client facts for a request from `peer`.
    public static func clientFacts(
        peer: String, headers: HeaderFields, realIP: RealIPConfig, scheme: String, port: Int, newRequestID: () -> String
    ) -> ClientFacts {
        let trusted = realIP.trusted.contains { $0.contains(peer) }
        var address = peer
        var forwardedFor = peer
        if trusted {
            let chain = headers.all("x-forwarded-for").flatMap { $0.split(separator: ",") }.map { $0.trimmedOfWhitespace() }
            switch realIP.header {
            case .cfConnectingIP:
                if let cf = headers.first("cf-connecting-ip")?.trimmedOfWhitespace(), CIDR.parseAddress(cf) != nil { address = cf }
            case .xForwardedFor:
                // Walk from the right past trusted proxies: the first untrusted hop is the client.
                for hop in chain.reversed() where CIDR.parseAddress(hop) != nil {
                    address = hop
                    if !realIP.trusted.contains(where: { $0.contains(hop) }) { break }
                }
            }
            forwardedFor = (chain + [peer]).joined(separator: ", ")
        }
        var requestID = newRequestID()
        if trusted, let given = headers.first("x-request-id"), isWellFormedRequestID(given) { requestID = given }
        return ClientFacts(address: address, forwardedFor: forwardedFor, scheme: scheme, host: headers.first("host"), port: port, requestID: requestID)
    }

    /// `[A-Za-z0-9._-]`, 1 to 128 characters: anything else is replaced, so logs and upstreams never see injected text.
    static func isWellFormedRequestID(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { ASCII.isTokenCharacter[Int($0)] && $0 != UInt8(ascii: "|") }
    }

    /// The request head to send upstream.
    public static func upstreamRequest(_ head: RequestHead, client: ClientFacts) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 6)
        let connectionTokens = Set(head.headers.all("connection").flatMap { $0.lowercased().split(separator: ",") }.map { $0.trimmedOfWhitespace() })
        for (name, value) in head.headers {
            let lowered = name.lowercased()
            // Framing is Edge's to set (below), from the body it actually forwards.
            if hopByHop.contains(lowered) || connectionTokens.contains(lowered) || forwarded.contains(lowered) || lowered == "content-length" {
                continue
            }
            headers.add(name: name, value: value)
        }
        // An upgrade (WebSocket) is the one hop-by-hop exchange a proxy passes on, explicitly.
        if connectionTokens.contains("upgrade"), let upgrade = head.headers.first("upgrade") {
            headers.add(name: "Connection", value: "upgrade")
            headers.add(name: "Upgrade", value: upgrade)
        }
        headers.add(name: "X-Forwarded-For", value: client.forwardedFor)
        headers.add(name: "X-Forwarded-Proto", value: client.scheme)
        if let host = client.host { headers.add(name: "X-Forwarded-Host", value: host) }
        headers.add(name: "X-Forwarded-Port", value: String(client.port))
        headers.add(name: "X-Real-IP", value: client.address)
        headers.add(name: "X-Request-ID", value: client.requestID)
        switch head.bodyFraming {
        case .none, .length(0): if head.method == .POST || head.method == .PUT || head.method == .PATCH { headers.add(name: "Content-Length", value: "0") }
        case .length(let length): headers.add(name: "Content-Length", value: String(length))
        case .chunked: headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.target, headers: headers)
    }

    /// The upstream response's header lines as the client gets them (hop-by-hop removed; Edge adds its own framing,
    /// `Date`, `Server` and `Connection`).
    public static func clientResponseFields(_ upstream: HTTPResponseHead) -> [(String, String)] {
        let connectionTokens = Set(upstream.headers["connection"].flatMap { $0.lowercased().split(separator: ",") }.map { $0.trimmedOfWhitespace() })
        return upstream.headers.filter { name, _ in
            let lowered = name.lowercased()
            return !hopByHop.contains(lowered) && !connectionTokens.contains(lowered) && lowered != "date" && lowered != "server"
        }.map { ($0.name, $0.value) }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmedOfWhitespace() -> String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
