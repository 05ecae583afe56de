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
        headers.forEachField { name, field in
            switch name.count {
            case 4 where ASCII.equalsIgnoringCase(name, "host"):
                host = headers.value(field)
                hostCount += 1
            case 5 where ASCII.equalsIgnoringCase(name, "range"):
                range = headers.value(field)[...]
            case 7 where forLogging && ASCII.equalsIgnoringCase(name, "referer"):
                referer = headers.value(field)
            case 8 where ASCII.equalsIgnoringCase(name, "if-match"):
                conditions.ifMatch = headers.value(field)[...]
            case 8 where ASCII.equalsIgnoringCase(name, "if-range"):
                conditions.ifRange = headers.value(field)[...]
            case 10 where forLogging && ASCII.equalsIgnoringCase(name, "user-agent"):
                userAgent = headers.value(field)
            case 13 where ASCII.equalsIgnoringCase(name, "if-none-match"):
                let value = headers.value(field)
                conditions.ifNoneMatch = conditions.ifNoneMatch.map { "\($0), \(value)"[...] } ?? value[...]
            case 15 where ASCII.equalsIgnoringCase(name, "accept-encoding"):
                acceptsGzip = acceptsGzip || AcceptEncoding.allowsGzip(headers.value(field))
            case 17 where ASCII.equalsIgnoringCase(name, "if-modified-since"):
                conditions.ifModifiedSince = headers.value(field)[...]
            case 19 where ASCII.equalsIgnoringCase(name, "if-unmodified-since"):
                conditions.ifUnmodifiedSince = headers.value(field)[...]
            default:
                break
            }
        }
    }
}
