import Shared

/// The request headers Edge acts on, collected in one pass over the header fields.
///
/// Names are compared as bytes after a length check, and a `String` is made only for the fields Edge uses, so a
/// request with the usual dozen headers costs a few comparisons rather than a dozen allocations.
public struct RequestHeaderFacts {
    /// The conditional headers, `nil` when the request has none (most requests).
    public var conditions: ConditionalRequest.Headers? { conditionsBox?.headers }
    public var range: Substring?
    public var referer: String?
    public var userAgent: String?
    /// The `Accept-Encoding` lines admit gzip (see `AcceptEncoding`).
    public var acceptsGzip: Bool { acceptEncoding.allowsGzip }
    private var acceptEncoding = AcceptEncoding.Reading()

    /// Boxed so the facts stay a few words to build and copy; allocated only for a conditional request.
    private var conditionsBox: ConditionsBox?

    private final class ConditionsBox {
        var headers = ConditionalRequest.Headers()
    }

    /// Facts from `headers`; `Referer` and `User-Agent` are read only when `forLogging`.
    public init(_ headers: HeaderFields, forLogging: Bool = true) {
        headers.forEachNameAndValue { name, value in
            self.note(name: name, value: value, forLogging: forLogging)
        }
    }

    private mutating func note(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, forLogging: Bool) {
        func text() -> String { String(decoding: value, as: UTF8.self) }
        func conditional() -> ConditionsBox {
            if let conditionsBox { return conditionsBox }
            let box = ConditionsBox()
            conditionsBox = box
            return box
        }
        switch name.count {
        case 5 where ASCII.equalsIgnoringCase(name, "range"):
            range = text()[...]
        case 7 where forLogging && ASCII.equalsIgnoringCase(name, "referer"):
            referer = text()
        case 8 where ASCII.equalsIgnoringCase(name, "if-match"):
            conditional().headers.ifMatch = text()[...]
        case 8 where ASCII.equalsIgnoringCase(name, "if-range"):
            conditional().headers.ifRange = text()[...]
        case 10 where forLogging && ASCII.equalsIgnoringCase(name, "user-agent"):
            userAgent = text()
        case 13 where ASCII.equalsIgnoringCase(name, "if-none-match"):
            let value = text()
            let box = conditional()
            box.headers.ifNoneMatch = box.headers.ifNoneMatch.map { "\($0), \(value)"[...] } ?? value[...]
        case 15 where ASCII.equalsIgnoringCase(name, "accept-encoding"):
            acceptEncoding.read(value)
        case 17 where ASCII.equalsIgnoringCase(name, "if-modified-since"):
            conditional().headers.ifModifiedSince = text()[...]
        case 19 where ASCII.equalsIgnoringCase(name, "if-unmodified-since"):
            conditional().headers.ifUnmodifiedSince = text()[...]
        default:
            break
        }
    }
}
