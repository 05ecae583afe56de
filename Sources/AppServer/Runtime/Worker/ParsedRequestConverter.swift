import HTTPTypes
import Shared

/// Turns a parsed request head into the swift-http-types request an app sees, applying the forwarded-header
/// policy on the way: fields an untrusted peer is not allowed to set never reach the app.
enum ParsedRequestConverter {
    static func convert(
        _ head: RequestHead, peer: PeerIdentity, policy: ForwardedPolicy
    ) -> (request: HTTPRequest, client: String, scheme: String) {
        let trusted = policy.trusts(peer)
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count)
        var authority: String?
        var forwarded = ForwardedValues()
        head.headers.forEachNameAndValue { nameBytes, valueBytes in
            // Host becomes the request's authority, as swift-http-types models it.
            if ASCII.equalsIgnoringCase(nameBytes, "host") {
                authority = String(decoding: valueBytes, as: UTF8.self)
                return
            }
            // Forwarded fields from a peer not in forwarded_allow never reach the app.
            if !trusted && ForwardedPolicy.isForwardedField(nameBytes) { return }
            guard let name = CommonFieldNames.name(nameBytes) ?? HTTPField.Name(String(decoding: nameBytes, as: UTF8.self))
            else { return }
            // An ASCII value becomes a `String` directly; HTTPField's byte initializer validates it as UTF-8 through
            // generic code that cost more than the rest of the conversion.
            let field =
                ASCII.isASCII(valueBytes)
                ? HTTPField(name: name, value: String(decoding: valueBytes, as: UTF8.self))
                : HTTPField(name: name, value: valueBytes)
            if trusted { forwarded.note(name: nameBytes, value: field.value) }
            fields.append(field)
        }
        let (client, scheme) = policy.resolve(forwarded, peer: peer, trusted: trusted)
        // The parser admits only token characters in methods, which is all HTTPRequest.Method requires. The
        // common two are the library's constants, so they are not validated again.
        let method: HTTPRequest.Method =
            head.method.isGET ? .get : head.method.isHEAD ? .head : HTTPRequest.Method(head.method.rawValue) ?? .get
        let request = HTTPRequest(method: method, scheme: scheme, authority: authority, path: head.target, headerFields: fields)
        return (request, client, scheme)
    }
}
