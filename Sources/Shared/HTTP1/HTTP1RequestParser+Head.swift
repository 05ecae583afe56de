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
            let (method, target, minorVersion) = try Self.parseRequestLine(requestLine, maxURILength: limits.maxURILength)

            let section = HTTP1Scanning.fieldSection(ofHeadLength: length, startLineEnd: lineEnd, in: head)
            guard section.count <= limits.maxHeaderSize else { throw .headersTooLarge }
            var scan = FieldScan()
            let fields = try HTTP1Fields.parse(UnsafeRawBufferPointer(rebasing: head[section]), into: &scan)
            if let maxCount = limits.maxHeaderCount, fields.count > maxCount { throw .headersTooLarge }

            let framing = try scan.requestFraming(minorVersion: minorVersion)
            let keepAlive = scan.connectionClose ? false : (minorVersion == 1 || scan.connectionKeepAlive)
            let headerBytes = buffer.getSlice(at: buffer.readerIndex + section.lowerBound, length: section.count)!
            return RequestHead(
                method: method, target: target, minorVersion: minorVersion,
                headers: HeaderFields(bytes: headerBytes, fields: fields), keepAlive: keepAlive, bodyFraming: framing,
                connectionOptions: scan.connectionOptions)
        }
    }

    private static func parseRequestLine(
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
        guard bytes.count == 8, bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
            bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[6] == UInt8(ascii: "."),
            bytes[5] &- UInt8(ascii: "0") < 10, bytes[7] &- UInt8(ascii: "0") < 10
        else { throw .malformed("invalid HTTP version") }
        guard bytes[5] == UInt8(ascii: "1"), bytes[7] <= UInt8(ascii: "1") else { throw .versionNotSupported }
        return Int(bytes[7] - UInt8(ascii: "0"))
    }

    private static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod {
        // Compared as bytes: `elementsEqual` against a `String.UTF8View` is generic and showed in the profile.
        if bytes.count == 3 && bytes[0] == UInt8(ascii: "G") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "T") {
            return .GET
        }
        if bytes.count == 4 && bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "A")
            && bytes[3] == UInt8(ascii: "D")
        {
            return .HEAD
        }
        return HTTPMethod(rawValue: String(decoding: bytes, as: UTF8.self))
    }
}
