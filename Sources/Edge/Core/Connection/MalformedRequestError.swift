/// A request found malformed below HTTP/1, after its head was handed on: an HTTP/2 stream whose DATA broke its
/// `content-length`, say, which NIO resets with `PROTOCOL_ERROR`. Nothing can be answered on the reset stream, but
/// the request is logged as the client's error (400), not as a client that went away (499).
public struct MalformedRequestError: Error, CustomStringConvertible {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
