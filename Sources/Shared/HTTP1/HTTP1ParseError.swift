/// Why a request could not be parsed; each case maps to the status the client gets before the connection closes.
public enum HTTP1ParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The request target is longer than `max_uri_length`: 414.
    case uriTooLong
    /// The header fields are larger than `max_header_size`: 431.
    case headersTooLarge
    /// An HTTP version other than 1.0 and 1.1: 505.
    case versionNotSupported
    /// A transfer coding other than `chunked`: 501.
    case unsupportedTransferEncoding(String)
    /// Anything else that is not HTTP/1.1 syntax: 400. The reason goes to the log.
    case malformed(String)

    /// The response status for this error.
    public var status: HTTPStatus {
        switch self {
        case .uriTooLong: .uriTooLong
        case .headersTooLarge: .headersTooLarge
        case .versionNotSupported: .versionNotSupported
        case .unsupportedTransferEncoding: .notImplemented
        case .malformed: .badRequest
        }
    }

    public var description: String {
        switch self {
        case .uriTooLong: "request target longer than max_uri_length"
        case .headersTooLarge: "header fields larger than max_header_size"
        case .versionNotSupported: "unsupported HTTP version"
        case .unsupportedTransferEncoding(let coding): "unsupported Transfer-Encoding '\(coding)'"
        case .malformed(let reason): reason
        }
    }
}
