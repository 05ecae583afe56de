import NIOSSL

/// Makes an SSL context choose TLS 1.2 cipher suites in Edge's order rather than the client's, as nginx's
/// `ssl_prefer_server_ciphers on` does, so a client listing a weaker-but-allowed suite first still gets the
/// strongest one both support. TLS scanners (testssl.sh) rate a server without an order as a HIGH finding.
///
/// swift-nio-ssl has no option for this, so the flag is set on the BoringSSL context it wraps: the context pointer is
/// read by reflection and `SSL_CTX_set_options` is called through its exported symbol. Both are checked: if the
/// layout ever changes, nothing is touched and the caller learns that the client's order applies.
enum ServerCipherPreference {
    /// BoringSSL's `SSL_OP_CIPHER_SERVER_PREFERENCE`.
    private static let cipherServerPreference: UInt32 = 0x0040_0000

    /// Sets the flag on `context` before any connection uses it; returns whether it is now set.
    static func apply(to context: NIOSSLContext) -> Bool {
        guard
            let raw = Mirror(reflecting: context).children.first(where: { $0.label == "sslContext" })?.value
                as? OpaquePointer
        else { return false }
        _ = boringSSLSetOptions(raw, cipherServerPreference)
        return boringSSLGetOptions(raw) & cipherServerPreference != 0
    }
}

// BoringSSL inside swift-nio-ssl, whose symbols carry the `CNIOBoringSSL_` prefix. Both take a pointer and a 32-bit
// integer, which Swift passes exactly as C does.
@_silgen_name("CNIOBoringSSL_SSL_CTX_set_options")
private func boringSSLSetOptions(_ context: OpaquePointer, _ options: UInt32) -> UInt32

@_silgen_name("CNIOBoringSSL_SSL_CTX_get_options")
private func boringSSLGetOptions(_ context: OpaquePointer) -> UInt32
