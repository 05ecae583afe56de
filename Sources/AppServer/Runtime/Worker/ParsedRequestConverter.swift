import HTTPTypes
import Shared

/// Turns a parsed request head into what an app sees, applying the forwarded-header policy on the way: fields an
/// untrusted peer is not allowed to set never reach the app.
///
/// Two steps. Who the client is and which scheme it used are decided at once, from a pass over the raw fields that
/// builds strings only for the three forwarding fields. The `HTTPRequest` with every field is built only when the
/// app first reads `AppRequest.head`: validating and copying each header line into an `HTTPField` was a quarter
/// of a worker's instructions per request, wasted on apps that route on method and path alone.
enum ParsedRequestConverter {
    static func convert(
        _ head: RequestHead, peer: PeerIdentity, policy: ForwardedPolicy
    ) -> (head: AppRequestHead, client: String, scheme: String) {
        let trusted = policy.trusts(peer)
        var forwarded = ForwardedValues()
        if trusted {
            head.headers.forEachNameAndValue { name, value in
                forwarded.note(name: name, value: String(decoding: value, as: UTF8.self))
            }
        }
        let (client, scheme) = policy.resolve(forwarded, peer: peer, trusted: trusted)
        // The parser admits only token characters in methods, which is all HTTPRequest.Method requires. The
        // common two are the library's constants, so they are not validated again.
        let method: HTTPRequest.Method =
            head.method.isGET ? .get : head.method.isHEAD ? .head : HTTPRequest.Method(head.method.rawValue) ?? .get
        let lazyHead = AppRequestHead(method: method, path: head.target) {
            request(from: head, method: method, scheme: scheme, keepingForwardedFields: trusted)
        }
        return (lazyHead, client, scheme)
    }

    /// The swift-http-types request for `head`, with `Host` as its authority and every other field but, from an
    /// untrusted peer, the forwarding ones.
    static func request(
        from head: RequestHead, method: HTTPRequest.Method, scheme: String, keepingForwardedFields trusted: Bool
    ) -> HTTPRequest {
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count)
        // An absolute-form target's authority wins over `Host` (RFC 9112 §3.2.2).
        var authority = head.absoluteFormAuthority
        head.headers.forEachNameAndValue { nameBytes, valueBytes in
            // Host becomes the request's authority, as swift-http-types models it.
            if ASCII.equalsIgnoringCase(nameBytes, "host") {
                if authority == nil { authority = String(decoding: valueBytes, as: UTF8.self) }
                return
            }
            // Forwarded fields from a peer not in forwarded_allow never reach the app.
            if !trusted && ForwardedPolicy.isForwardedField(nameBytes) { return }
            guard
                let name = CommonFieldNames.name(nameBytes)
                    ?? HTTPField.Name(String(decoding: nameBytes, as: UTF8.self))
            else { return }
            // An ASCII value becomes a `String` directly; HTTPField's byte initializer validates it as UTF-8 through
            // generic code that cost more than the rest of the conversion.
            let field =
                ASCII.isASCII(valueBytes)
                ? HTTPField(name: name, value: String(decoding: valueBytes, as: UTF8.self))
                : HTTPField(name: name, value: valueBytes)
            fields.append(field)
        }
        return HTTPRequest(
            method: method, scheme: scheme, authority: authority, path: head.target, headerFields: fields)
    }
}
