import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Header field lines (RFC 9112 §5), parsed in one pass into ranges, refusing what could be used for smuggling.
enum HTTP1Fields {
    /// Every request and proxied response passes through here, so it works on the raw bytes: `memchr` finds line
    /// ends, and no slice or generic collection algorithm runs per byte.
    static func parse(
        _ section: UnsafeRawBufferPointer, into scan: inout FieldScan
    ) throws(HTTP1ParseError) -> [HeaderFields.Field] {
        var fields: [HeaderFields.Field] = []
        guard let bytes = section.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return fields }
        fields.reserveCapacity(12)
        let count = section.count
        var lineStart = 0
        while lineStart < count {
            let newline = HTTP1Scanning.index(of: UInt8(ascii: "\n"), in: section, from: lineStart) ?? count
            var lineEnd = newline
            if lineEnd > lineStart && bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let first = bytes[lineStart]
            if ASCII.isBlank(first) { throw .malformed("obsolete header line folding") }

            var colon = lineStart
            while colon < lineEnd && ASCII.isTokenByte(bytes[colon]) { colon += 1 }
            guard colon < lineEnd, bytes[colon] == UInt8(ascii: ":"), colon > lineStart else {
                let hasColonLater =
                    colon < lineEnd && memchr(bytes + colon, Int32(UInt8(ascii: ":")), lineEnd - colon) != nil
                if colon > lineStart && hasColonLater { throw .malformed("invalid character in header name") }
                throw .malformed("header line without a name and colon")
            }

            var valueStart = colon + 1
            var valueEnd = lineEnd
            while valueStart < valueEnd && ASCII.isBlank(bytes[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && ASCII.isBlank(bytes[valueEnd - 1]) { valueEnd -= 1 }
            guard HTTP1Scanning.isValidFieldValue(bytes + valueStart, count: valueEnd - valueStart) else {
                throw .malformed("invalid character in header value")
            }
            fields.append(
                HeaderFields.Field(
                    nameStart: Int32(lineStart), nameLength: Int32(colon - lineStart), valueStart: Int32(valueStart),
                    valueLength: Int32(valueEnd - valueStart)))
            try scan.note(
                name: UnsafeRawBufferPointer(start: bytes + lineStart, count: colon - lineStart),
                value: UnsafeRawBufferPointer(start: bytes + valueStart, count: valueEnd - valueStart))
            lineStart = newline + 1
        }
        return fields
    }
}

/// What the header fields say about framing and the connection, gathered while they are parsed.
struct FieldScan {
    var contentLength: Int?
    var transferEncoding: [UInt8]?
    var connectionClose = false
    var connectionKeepAlive = false
    /// The other options `Connection` names, lowercased: fields a proxy must not forward (and `upgrade`).
    var connectionOptions: [String] = []
    /// `Host` lines seen; each value was checked by `HostValidation` as it was read.
    var hostCount = 0

    mutating func note(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        switch name.count {
        case 14 where ASCII.equalsIgnoringCase(name, "content-length"):
            guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else {
                throw .malformed("invalid Content-Length")
            }
            let length = value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            if let existing = contentLength, existing != length {
                throw .malformed("conflicting Content-Length headers")
            }
            contentLength = length
        case 4 where ASCII.equalsIgnoringCase(name, "host"):
            hostCount += 1
            guard HostValidation.isValid(value) else { throw .malformed("invalid Host") }
        case 17 where ASCII.equalsIgnoringCase(name, "transfer-encoding"):
            if transferEncoding != nil { transferEncoding! += Array(", ".utf8) }
            transferEncoding = (transferEncoding ?? []) + Array(value)
        case 10 where ASCII.equalsIgnoringCase(name, "connection"):
            for token in value.split(separator: UInt8(ascii: ",")) {
                let trimmed = token.drop(while: ASCII.isBlank).reversed().drop(while: ASCII.isBlank).reversed()
                let word = String(decoding: trimmed, as: UTF8.self).lowercased()
                switch word {
                case "close": connectionClose = true
                case "keep-alive": connectionKeepAlive = true
                case "": break
                default: connectionOptions.append(word)
                }
            }
        default:
            break
        }
    }

    /// A request's framing: a body only when the fields announce one.
    ///
    /// RFC 9112 §6.3: a request whose last transfer coding is not `chunked` has no length anyone can determine, so it
    /// gets 400 and the connection closes (as does `chunked` applied twice); `chunked` after another coding is
    /// understood but the other coding is not: 501.
    func requestFraming(minorVersion: Int) throws(HTTP1ParseError) -> BodyFraming {
        if let transferEncoding { return try Self.chunkedFraming(transferEncoding, minorVersion, contentLength) }
        if let contentLength { return .length(contentLength) }
        return .none
    }

    /// `requestFraming` for a request with `Transfer-Encoding`; apart, so the usual request's path stays small.
    @inline(never)
    private static func chunkedFraming(
        _ transferEncoding: [UInt8], _ minorVersion: Int, _ contentLength: Int?
    ) throws(HTTP1ParseError) -> BodyFraming {
        guard minorVersion == 1 else { throw .malformed("Transfer-Encoding in an HTTP/1.0 request") }
        guard contentLength == nil else { throw .malformed("both Content-Length and Transfer-Encoding") }
        let coding = String(decoding: transferEncoding, as: UTF8.self).lowercased()
        guard coding != "chunked" else { return .chunked }
        let codings = coding.split(separator: ",").map { $0.trimmedOfWhitespace() }.filter { !$0.isEmpty }
        guard codings.last == "chunked" else { throw .malformed("Transfer-Encoding does not end in chunked") }
        guard !codings.dropLast().contains("chunked") else { throw .malformed("chunked applied twice") }
        throw .unsupportedTransferEncoding(coding)
    }

    /// A response's framing (RFC 9112 §6.3) when the response has a body at all: chunked, `Content-Length`, or
    /// until the connection closes when neither is given.
    ///
    /// A transfer coding other than plain `chunked` is refused, as nginx does ("upstream sent unknown
    /// Transfer-Encoding"). The RFC would read such a body until the close, but `Transfer-Encoding` does not travel
    /// past Edge, so the client would get bytes still coded (gzipped, say) with nothing saying so.
    func responseFraming() throws(HTTP1ParseError) -> BodyFraming {
        if let transferEncoding {
            // Allowed by the RFC (Transfer-Encoding wins), but a message carrying both is how smuggling starts.
            guard contentLength == nil else { throw .malformed("both Content-Length and Transfer-Encoding") }
            let coding = String(decoding: transferEncoding, as: UTF8.self).lowercased()
            guard coding == "chunked" else { throw .malformed("unsupported Transfer-Encoding '\(coding)'") }
            return .chunked
        }
        if let contentLength { return .length(contentLength) }
        return .untilClose
    }
}
