import NIOHTTP1

/// The request headers Edge acts on, collected in one pass over the header list.
///
/// `HTTPHeaders.first(name:)` scans the whole list each time; a static file request consults up to nine headers,
/// so one pass with a cheap length test before the case-insensitive compare is measurably faster.
public struct RequestHeaderFacts {
    public var host: Substring?
    public var hostCount = 0
    public var conditions = ConditionalRequest.Headers()
    public var range: Substring?
    public var referer: Substring?
    public var userAgent: Substring?
    /// Bytes of all header lines as sent (`name: value\r\n`), for the `max_header_size` limit.
    public var headerBytes = 0

    /// Facts from `headers`.
    public init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            let utf8 = name.utf8
            headerBytes += utf8.count + value.utf8.count + 4
            switch utf8.count {
            case 4 where name.equalsIgnoringASCIICase("host"):
                host = value[...]
                hostCount += 1
            case 5 where name.equalsIgnoringASCIICase("range"):
                range = value[...]
            case 7 where name.equalsIgnoringASCIICase("referer"):
                referer = value[...]
            case 8 where name.equalsIgnoringASCIICase("if-match"):
                conditions.ifMatch = value[...]
            case 8 where name.equalsIgnoringASCIICase("if-range"):
                conditions.ifRange = value[...]
            case 10 where name.equalsIgnoringASCIICase("user-agent"):
                userAgent = value[...]
            case 13 where name.equalsIgnoringASCIICase("if-none-match"):
                conditions.ifNoneMatch = conditions.ifNoneMatch.map { "\($0), \(value)"[...] } ?? value[...]
            case 17 where name.equalsIgnoringASCIICase("if-modified-since"):
                conditions.ifModifiedSince = value[...]
            case 19 where name.equalsIgnoringASCIICase("if-unmodified-since"):
                conditions.ifUnmodifiedSince = value[...]
            default:
                break
            }
        }
    }
}

extension String {
    /// ASCII case-insensitive equality with a lowercase literal, without allocating.
    @inlinable
    func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        let other = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        guard utf8.count == other.count else { return false }
        return zip(utf8, other).allSatisfy { lhs, rhs in
            let folded = lhs >= 0x41 && lhs <= 0x5A ? lhs | 0x20 : lhs
            return folded == rhs
        }
    }
}
