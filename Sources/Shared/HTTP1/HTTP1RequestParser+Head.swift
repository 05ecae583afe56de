import NIOCore
import NIOHTTP1

extension HTTP1RequestParser {
    /// Parses the complete head occupying the first `length` readable bytes (blank line included).
    func parseHead(length: Int) throws(HTTP1ParseError) -> RequestHead {
        return try buffer.withUnsafeReadableBytes { raw throws(HTTP1ParseError) -> RequestHead in
            let head = UnsafeRawBufferPointer(rebasing: raw[0..<length])
            guard let lineEnd = head.firstIndex(of: UInt8(ascii: "\n")) else { throw .malformed("no request line") }
            let requestLine = Self.trimCR(UnsafeRawBufferPointer(rebasing: head[0..<lineEnd]))
            let (method, target, minorVersion) = try Self.parseRequestLine(requestLine, maxURILength: limits.maxURILength)

            // Header section: after the request line, before the blank line.
            let fieldsStart = lineEnd + 1
            let blankLineLength = head[length - 2] == UInt8(ascii: "\r") ? 2 : 1
            let fieldsEnd = max(fieldsStart, length - blankLineLength)
            guard fieldsEnd - fieldsStart <= limits.maxHeaderSize else { throw .headersTooLarge }
            var scan = FieldScan()
            let fields = try Self.parseFields(UnsafeRawBufferPointer(rebasing: head[fieldsStart..<fieldsEnd]), into: &scan)
            if let maxCount = limits.maxHeaderCount, fields.count > maxCount { throw .headersTooLarge }

            let framing = try scan.framing(minorVersion: minorVersion)
            let keepAlive = scan.connectionClose ? false : (minorVersion == 1 || scan.connectionKeepAlive)
            let headerBytes = buffer.getSlice(at: buffer.readerIndex + fieldsStart, length: fieldsEnd - fieldsStart)!
            return RequestHead(
                method: method, target: target, minorVersion: minorVersion,
                headers: HeaderFields(bytes: headerBytes, fields: fields), keepAlive: keepAlive, bodyFraming: framing)
        }
    }

    private static func trimCR(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        line.last == UInt8(ascii: "\r") ? UnsafeRawBufferPointer(rebasing: line.dropLast()) : line
    }

    private static func parseRequestLine(
        _ line: UnsafeRawBufferPointer, maxURILength: Int
    ) throws(HTTP1ParseError) -> (HTTPMethod, String, Int) {
        guard let firstSpace = line.firstIndex(of: UInt8(ascii: " ")), firstSpace > 0 else {
            throw .malformed("malformed request line")
        }
        let methodBytes = UnsafeRawBufferPointer(rebasing: line[0..<firstSpace])
        guard methodBytes.allSatisfy({ ASCII.isTokenCharacter[Int($0)] }) else { throw .malformed("invalid method") }
        let rest = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)...])
        guard let secondSpace = rest.lastIndex(of: UInt8(ascii: " ")), secondSpace > rest.startIndex else {
            throw .malformed("malformed request line")
        }
        let targetBytes = UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<secondSpace])
        guard targetBytes.count <= maxURILength else { throw .uriTooLong }
        // Targets are visible characters; bytes above 0x7F (raw UTF-8) are tolerated as nginx does.
        guard targetBytes.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { throw .malformed("invalid character in request target") }
        guard let target = String(validating: targetBytes, as: UTF8.self) else {
            throw .malformed("request target is not valid UTF-8")
        }
        let version = UnsafeRawBufferPointer(rebasing: rest[(secondSpace + 1)...])
        let minorVersion = try parseVersion(version)
        return (method(methodBytes), target, minorVersion)
    }

    private static func parseVersion(_ bytes: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> Int {
        let prefix = Array("HTTP/".utf8)
        guard bytes.count == 8, bytes.prefix(5).elementsEqual(prefix), bytes[6] == UInt8(ascii: "."),
            bytes[5] &- UInt8(ascii: "0") < 10, bytes[7] &- UInt8(ascii: "0") < 10
        else { throw .malformed("invalid HTTP version") }
        guard bytes[5] == UInt8(ascii: "1"), bytes[7] <= UInt8(ascii: "1") else { throw .versionNotSupported }
        return Int(bytes[7] - UInt8(ascii: "0"))
    }

    private static func method(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod {
        if bytes.elementsEqual("GET".utf8) { return .GET }
        if bytes.elementsEqual("HEAD".utf8) { return .HEAD }
        return HTTPMethod(rawValue: String(decoding: bytes, as: UTF8.self))
    }

    private static func parseFields(
        _ section: UnsafeRawBufferPointer, into scan: inout FieldScan
    ) throws(HTTP1ParseError) -> [HeaderFields.Field] {
        var fields: [HeaderFields.Field] = []
        fields.reserveCapacity(12)
        var lineStart = 0
        while lineStart < section.count {
            let newline = section[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? section.count
            var lineEnd = newline
            if lineEnd > lineStart && section[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let first = section[lineStart]
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { throw .malformed("obsolete header line folding") }
            guard let colon = section[lineStart..<lineEnd].firstIndex(of: UInt8(ascii: ":")), colon > lineStart else {
                throw .malformed("header line without a name and colon")
            }
            for index in lineStart..<colon where !ASCII.isTokenCharacter[Int(section[index])] {
                throw .malformed("invalid character in header name")
            }
            var valueStart = colon + 1
            var valueEnd = lineEnd
            while valueStart < valueEnd && (section[valueStart] == 0x20 || section[valueStart] == 0x09) { valueStart += 1 }
            while valueEnd > valueStart && (section[valueEnd - 1] == 0x20 || section[valueEnd - 1] == 0x09) { valueEnd -= 1 }
            for index in valueStart..<valueEnd {
                let byte = section[index]
                if (byte < 0x20 && byte != 0x09) || byte == 0x7F { throw .malformed("invalid character in header value") }
            }
            let field = HeaderFields.Field(
                nameStart: Int32(lineStart), nameLength: Int32(colon - lineStart), valueStart: Int32(valueStart),
                valueLength: Int32(valueEnd - valueStart))
            try scan.note(
                name: UnsafeRawBufferPointer(rebasing: section[lineStart..<colon]),
                value: UnsafeRawBufferPointer(rebasing: section[valueStart..<valueEnd]))
            fields.append(field)
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

    mutating func note(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        switch name.count {
        case 14 where ASCII.equalsIgnoringCase(name, "content-length"):
            guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else {
                throw .malformed("invalid Content-Length")
            }
            let length = value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            if let existing = contentLength, existing != length { throw .malformed("conflicting Content-Length headers") }
            contentLength = length
        case 17 where ASCII.equalsIgnoringCase(name, "transfer-encoding"):
            if transferEncoding != nil { transferEncoding! += Array(", ".utf8) }
            transferEncoding = (transferEncoding ?? []) + Array(value)
        case 10 where ASCII.equalsIgnoringCase(name, "connection"):
            for token in value.split(separator: UInt8(ascii: ",")) {
                let trimmed = token.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
                let word = String(decoding: trimmed, as: UTF8.self).lowercased()
                if word == "close" { connectionClose = true }
                if word == "keep-alive" { connectionKeepAlive = true }
            }
        default:
            break
        }
    }

    func framing(minorVersion: Int) throws(HTTP1ParseError) -> BodyFraming {
        if let transferEncoding {
            guard minorVersion == 1 else { throw .malformed("Transfer-Encoding in an HTTP/1.0 request") }
            guard contentLength == nil else { throw .malformed("both Content-Length and Transfer-Encoding") }
            let coding = String(decoding: transferEncoding, as: UTF8.self).lowercased()
            guard coding == "chunked" else { throw .unsupportedTransferEncoding(coding) }
            return .chunked
        }
        if let contentLength { return .length(contentLength) }
        return .none
    }
}
