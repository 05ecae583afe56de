import NIOCore

/// A parsed HTTP/1 response head (an upstream's answer). Like `RequestHead`, fields stay as ranges into the
/// received bytes.
public struct ResponseHead: Sendable {
    /// The three-digit status code.
    public var status: Int
    /// The reason phrase exactly as sent (may be empty).
    public var reason: ByteBuffer
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// The header fields.
    public var headers: HeaderFields
    /// Whether the upstream keeps the connection open after this response.
    public var keepAlive: Bool
    /// How the body is delimited (`.none` for responses that cannot have one).
    public var bodyFraming: BodyFraming
    /// What `Connection` names besides `close` and `keep-alive`, lowercased.
    public var connectionOptions: [String]

    public var reasonPhrase: String { String(buffer: reason) }
}
