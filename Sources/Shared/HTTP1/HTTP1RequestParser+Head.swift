import NIOCore
import NIOHTTP1

extension HTTP1RequestParser {
    /// Parses the complete head occupying the first `length` readable bytes (blank line included).
    func parseHead(length: Int) throws(HTTP1ParseError) -> RequestHead {
        return try buffer.withUnsafeReadableBytes { raw throws(HTTP1ParseError) -> RequestHead in
            let head = UnsafeRawBufferPointer(rebasing: raw[0..<length])
            guard let lineEnd = HTTP1Scanning.index(of: UInt8(ascii: "\n"), in: head, from: 0) else {
                throw .malformed("no request line")
            }
            let requestLine = HTTP1Scanning.trimCR(UnsafeRawBufferPointer(rebasing: head[0..<lineEnd]))
            let (method, sentTarget, minorVersion) = try Self.parseRequestLine(
                requestLine, maxURILength: limits.maxURILength)
            // Origin form is the rule; one byte tells (absolute form comes from proxies and some HTTP/1.0 clients).
            let (target, authority) =
                sentTarget.utf8.first == UInt8(ascii: "/") ? (sentTarget, nil) : try Self.originForm(of: sentTarget)

            let section = HTTP1Scanning.fieldSection(ofHeadLength: length, startLineEnd: lineEnd, in: head)
            guard section.count <= limits.maxHeaderSize else { throw .headersTooLarge }
            var scan = FieldScan()
            let fields = try HTTP1Fields.parse(UnsafeRawBufferPointer(rebasing: head[section]), into: &scan)
            if let maxCount = limits.maxHeaderCount, fields.count > maxCount { throw .headersTooLarge }

            // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host and for any with two. With an absolute-form
            // target the target's authority is the host and Host is ignored (§3.2.2): `RequestHead.host`.
            if scan.hostCount > 1 { throw .malformed("more than one Host header") }
            if scan.hostCount == 0 && minorVersion == 1 { throw .malformed("HTTP/1.1 request without Host") }
            let framing = try scan.requestFraming(minorVersion: minorVersion)
            let keepAlive = scan.connectionClose ? false : (minorVersion == 1 || scan.connectionKeepAlive)
            let headerBytes = buffer.getSlice(at: buffer.readerIndex + section.lowerBound, length: section.count)!
            return RequestHead(
                method: method, target: target, absoluteFormAuthority: authority, minorVersion: minorVersion,
                headers: HeaderFields(bytes: headerBytes, fields: fields), keepAlive: keepAlive, bodyFraming: framing,
                connectionOptions: scan.connectionOptions)
        }
    }

    /// `http://host:port/path?query` → (`/path?query`, `host:port`); a target without a path gets `/`. Other targets
    /// (`*` for `OPTIONS`, authority form for `CONNECT`, other schemes) are left as sent, for the router to refuse.
    static func originForm(of target: String) throws(HTTP1ParseError) -> (target: String, authority: String?) {
        let scheme = target.prefix(8).lowercased()
        let schemeLength = scheme.hasPrefix("http://") ? 7 : scheme.hasPrefix("https://") ? 8 : 0
        guard schemeLength > 0 else { return (target, nil) }
        let afterScheme = target.utf8.index(target.utf8.startIndex, offsetBy: schemeLength)
        let pathStart =
            target.utf8[afterScheme...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }
            ?? target.utf8.endIndex
        let authority = String(target[afterScheme..<pathStart])
        guard !authority.isEmpty else { throw .malformed("absolute-form request target without a host") }
        // RFC 9110 §4.2.4: user information in an http(s) URI is to be treated as an error.
        guard !authority.contains("@") else { throw .malformed("user information in the request target") }
        guard HostValidation.isValid(authority) else { throw .malformed("invalid host in the request target") }
        let rest = target[pathStart...]
        return (rest.first == "/" ? String(rest) : "/" + rest, authority)
    }

    static func parseRequestLine(
        _ line: UnsafeRawBufferPointer, maxURILength: Int
    ) throws(HTTP1ParseError) -> (HTTPMethod, String, Int) {
        guard let firstSpace = line.firstIndex(of: UInt8(ascii: " ")), firstSpace > 0 else {
            throw .malformed("malformed request line")
        }
        let methodBytes = UnsafeRawBufferPointer(rebasing: line[0..<firstSpace])
        guard methodBytes.allSatisfy({ ASCII.isTokenByte($0) }) else { throw .malformed("invalid method") }
        let rest = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)...])
        guard let secondSpace = rest.lastIndex(of: UInt8(ascii: " ")), secondSpace > rest.startIndex else {
            throw .malformed("malformed request line")
        }
        let targetBytes = UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<secondSpace])
        guard targetBytes.count <= maxURILength else { throw .uriTooLong }
        // Targets are visible characters; bytes above 0x7F (raw UTF-8) are tolerated as nginx does.
        var isASCII = true
        for byte in targetBytes {
            guard byte > 0x20 && byte != 0x7F else { throw .malformed("invalid character in request target") }
            if byte >= 0x80 { isASCII = false }
        }
        // ASCII needs no validation; `String(validating:)` is generic and showed per request in the profile.
        let target: String
        if isASCII {
            target = String(decoding: targetBytes, as: UTF8.self)
        } else if let validated = String(validating: targetBytes, as: UTF8.self) {
            target = validated
        } else {
            throw .malformed("request target is not valid UTF-8")
        }
        let version = UnsafeRawBufferPointer(rebasing: rest[(secondSpace + 1)...])
        let minorVersion = try parseVersion(version)
        return (method(methodBytes), target, minorVersion)
    }

    static func parseVersion(_ bytes: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> Int {
        guard bytes.count == 8, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"),
            bytes[2] == UInt8(ascii: "T"),
            bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[6] == UInt8(ascii: "."),
            bytes[5] &- UInt8(ascii: "0") < 10, bytes[7] &- UInt8(ascii: "0") < 10
        else { throw .malformed("invalid HTTP version") }
        guard bytes[5] == UInt8(ascii: "1"), bytes[7] <= UInt8(ascii: "1") else { throw .versionNotSupported }
        return Int(bytes[7] - UInt8(ascii: "0"))
    }

    private static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod {
        // Compared as bytes: `elementsEqual` against a `String.UTF8View` is generic and showed in the profile.
        if bytes.count == 3 && bytes[0] == UInt8(ascii: "G") && bytes[1] == UInt8(ascii: "E")
            && bytes[2] == UInt8(ascii: "T")
        {
            return .GET
        }
        if bytes.count == 4 && bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "E")
            && bytes[2] == UInt8(ascii: "A")
            && bytes[3] == UInt8(ascii: "D")
        {
            return .HEAD
        }
        return HTTPMethod(rawValue: String(decoding: bytes, as: UTF8.self))
    }
}
