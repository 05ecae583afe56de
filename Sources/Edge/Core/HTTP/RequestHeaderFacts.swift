import Shared

/// The request headers Edge acts on, collected in one pass over the header fields.
///
/// Names are compared as bytes after a length check, and a `String` is made only for the fields Edge uses, so a
/// request with the usual dozen headers costs a few comparisons rather than a dozen allocations.
public struct RequestHeaderFacts {
    public var host: String?
    public var hostCount = 0
    public var conditions = ConditionalRequest.Headers()
    public var range: Substring?
    public var referer: String?
    public var userAgent: String?
    /// `Accept-Encoding` admits gzip (see `AcceptEncoding`).
    public var acceptsGzip = false

    /// Facts from `headers`; `Referer` and `User-Agent` are read only when `forLogging`.
    public init(_ headers: HeaderFields, forLogging: Bool = true) {
        headers.forEachNameAndValue { name, value in
            func text() -> String { String(decoding: value, as: UTF8.self) }
            switch name.count {
            case 4 where ASCII.equalsIgnoringCase(name, "host"):
                host = text()
                hostCount += 1
            case 5 where ASCII.equalsIgnoringCase(name, "range"):
                range = text()[...]
            case 7 where forLogging && ASCII.equalsIgnoringCase(name, "referer"):
                referer = text()
            case 8 where ASCII.equalsIgnoringCase(name, "if-match"):
                conditions.ifMatch = text()[...]
            case 8 where ASCII.equalsIgnoringCase(name, "if-range"):
                conditions.ifRange = text()[...]
            case 10 where forLogging && ASCII.equalsIgnoringCase(name, "user-agent"):
                userAgent = text()
            case 13 where ASCII.equalsIgnoringCase(name, "if-none-match"):
                let value = text()
                conditions.ifNoneMatch = conditions.ifNoneMatch.map { "\($0), \(value)"[...] } ?? value[...]
            case 15 where ASCII.equalsIgnoringCase(name, "accept-encoding"):
                acceptsGzip = acceptsGzip || AcceptEncoding.allowsGzip(value)
            case 17 where ASCII.equalsIgnoringCase(name, "if-modified-since"):
                conditions.ifModifiedSince = text()[...]
            case 19 where ASCII.equalsIgnoringCase(name, "if-unmodified-since"):
                conditions.ifUnmodifiedSince = text()[...]
            default:
                break
            }
        }
    }
}
