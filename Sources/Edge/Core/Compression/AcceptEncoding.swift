import Shared

/// `Accept-Encoding` (RFC 9110 §12.5.3), read for the one question Edge asks: may the response be gzipped?
///
/// Read straight from the field's bytes, without splitting into strings: it runs for every request to a
/// compressible file, where the string version cost about a tenth of a precompressed response's CPU time.
public enum AcceptEncoding {
    /// Whether a client sending `header` accepts gzip: `gzip` (or `x-gzip`) with a q-value above 0, or, when gzip
    /// is not named, `*` above 0. No header, `identity` alone, and `gzip;q=0` all mean no.
    public static func allowsGzip(_ header: String?) -> Bool {
        guard var header else { return false }
        var reading = Reading()
        header.withUTF8 { reading.read(UnsafeRawBufferPointer($0)) }
        return reading.allowsGzip
    }

    /// The same decision over every `Accept-Encoding` line of a request.
    public static func allowsGzip(_ headers: HeaderFields) -> Bool {
        var reading = Reading()
        headers.forEachNameAndValue { name, value in
            if ASCII.equalsIgnoringCase(name, "accept-encoding") { reading.read(value) }
        }
        return reading.allowsGzip
    }

    /// What a request's `Accept-Encoding` lines said about gzip so far. Several lines are one list (RFC 9110 §5.3):
    /// `gzip;q=0` on one line refuses gzip even when another line says `*`.
    public struct Reading {
        private var gzip: Bool?
        private var wildcard: Bool?

        public init() {}

        /// `gzip` (or `x-gzip`) decides when it is named; otherwise `*`; otherwise no.
        public var allowsGzip: Bool { gzip ?? wildcard ?? false }

        /// Reads one field line's value.
        public mutating func read(_ header: UnsafeRawBufferPointer) {
            var elementStart = 0
            while elementStart < header.count {
                let elementEnd = index(of: ",", in: header, from: elementStart, to: header.count)
                let codingEnd = index(of: ";", in: header, from: elementStart, to: elementEnd)
                let coding = trimmed(header, elementStart, codingEnd)
                if !coding.isEmpty {
                    var accepted = true
                    var parameterStart = codingEnd + 1
                    while parameterStart <= elementEnd {
                        let parameterEnd = index(of: ";", in: header, from: parameterStart, to: elementEnd)
                        let equals = index(of: "=", in: header, from: parameterStart, to: parameterEnd)
                        let name = trimmed(header, parameterStart, equals)
                        if equals < parameterEnd, ASCII.equalsIgnoringCase(name, "q") {
                            accepted = accepted && isPositiveQValue(trimmed(header, equals + 1, parameterEnd))
                        }
                        parameterStart = parameterEnd + 1
                    }
                    if ASCII.equalsIgnoringCase(coding, "gzip") || ASCII.equalsIgnoringCase(coding, "x-gzip") {
                        gzip = (gzip ?? false) || accepted
                    } else if coding.count == 1 && coding[0] == UInt8(ascii: "*") {
                        wildcard = accepted
                    }
                }
                elementStart = elementEnd + 1
            }
        }
    }

    /// `q=0`, `q=0.000` and unreadable values mean "not acceptable"; any non-zero digit means acceptable.
    private static func isPositiveQValue(_ value: UnsafeRawBufferPointer) -> Bool {
        for byte in value {
            switch byte {
            case UInt8(ascii: "1")...UInt8(ascii: "9"): return true
            case UInt8(ascii: "0"), UInt8(ascii: "."): continue
            default:
                // Not the usual form (`1e-3`, `+0.5`): read it as a number, as before.
                return (Double(String(decoding: value, as: UTF8.self)) ?? 0) > 0
            }
        }
        return false
    }

    private static func index(
        of character: Unicode.Scalar, in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int
    ) -> Int {
        var position = start
        while position < end && bytes[position] != UInt8(ascii: character) { position += 1 }
        return position
    }

    private static func trimmed(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
        ASCII.trimmingBlanks(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
    }
}
