import NIOCore
import NIOHTTP1

/// A parsed HTTP/1 request head. Header fields stay as ranges into the received bytes: no `String` is made for a
/// header unless someone asks for its value.
public struct RequestHead: Sendable {
    /// The request method.
    public var method: HTTPMethod
    /// The request target in origin form, `/path?query`: as sent, or taken out of an absolute-form target
    /// (`http://host/path?query`, which RFC 9112 §3.2.2 says a server must accept).
    public var target: String
    /// The authority of an absolute-form target. When present it is the request's host, and any `Host` field is
    /// ignored (RFC 9112 §3.2.2).
    public var absoluteFormAuthority: String? = nil
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// The header fields.
    public var headers: HeaderFields
    /// Whether the client wants the connection kept open after this exchange (version default and `Connection`).
    public var keepAlive: Bool
    /// How the body is delimited.
    public var bodyFraming: BodyFraming
    /// What `Connection` names besides `close` and `keep-alive`, lowercased (hop-by-hop fields, `upgrade`).
    public var connectionOptions: [String] = []

    /// `HTTP/1.0` or `HTTP/1.1`.
    public var versionText: String { minorVersion == 0 ? "HTTP/1.0" : "HTTP/1.1" }

    /// The host the request is for: an absolute-form target's authority, else the `Host` field.
    public var host: String? { absoluteFormAuthority ?? headers.first("host") }
}

/// How a message body is delimited (RFC 9112 §6).
public enum BodyFraming: Hashable, Sendable {
    case none
    case length(Int)
    case chunked
    /// Responses only: the body is everything until the connection closes.
    case untilClose
}

/// Header fields as ranges into the head's bytes, in the order received.
public struct HeaderFields: Sendable, Sequence {
    /// One field: where its name and value are in `bytes`.
    public struct Field: Sendable {
        @usableFromInline var nameStart: Int32
        @usableFromInline var nameLength: Int32
        @usableFromInline var valueStart: Int32
        @usableFromInline var valueLength: Int32
    }

    // Usable from inlinable code: `forEachNameAndValue` is inlined into its callers in Edge and AppServer, so their
    // per-field closures are inlined too instead of called through a context for every field.
    @usableFromInline let bytes: ByteBuffer
    @usableFromInline var fields: [Field]

    /// Header fields over `bytes` (test and adapter use).
    public init(bytes: ByteBuffer, fields: [Field]) {
        self.bytes = bytes
        self.fields = fields
    }

    /// Number of fields.
    public var count: Int { fields.count }

    /// Total bytes of the field lines as received, for limits.
    public var byteCount: Int { bytes.readableBytes }

    /// The value of the first field named `name` (ASCII case-insensitive, `name` in lowercase).
    public func first(_ name: StaticString) -> String? {
        withFirstValue(name) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the value bytes of the first field named `name`, without making a `String`; `nil` when
    /// there is no such field.
    ///
    /// One pass over the bytes, comparing lengths first: looked up per request (`Expect`, `X-Request-ID`, ...), and
    /// opening the buffer once per field cost several hundred instructions on a dozen fields. Inlinable, so the
    /// generic result is specialised where it is called rather than passed through metadata.
    @inlinable
    public func withFirstValue<Result>(_ name: StaticString, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        let nameLength = Int32(name.utf8CodeUnitCount)
        return bytes.withUnsafeReadableBytes { raw -> Result? in
            guard let base = raw.baseAddress else { return nil }
            for field in fields where field.nameLength == nameLength {
                let fieldName = UnsafeRawBufferPointer(start: base + Int(field.nameStart), count: Int(field.nameLength))
                if ASCII.equalsIgnoringCase(fieldName, name) {
                    return body(
                        UnsafeRawBufferPointer(start: base + Int(field.valueStart), count: Int(field.valueLength)))
                }
            }
            return nil
        }
    }

    /// All values of fields named `name`, in order.
    public func all(_ name: StaticString) -> [String] {
        fields.filter { nameEquals($0, name) }.map(value)
    }

    /// Calls `body` with each field's name and value bytes, in order, without allocating.
    @inlinable
    public func forEachNameAndValue(_ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeReadableBytes { raw in
            // The ranges were checked against these bytes when the head was parsed; no slicing per field.
            guard let base = raw.baseAddress else { return }
            for field in fields {
                body(
                    UnsafeRawBufferPointer(start: base + Int(field.nameStart), count: Int(field.nameLength)),
                    UnsafeRawBufferPointer(start: base + Int(field.valueStart), count: Int(field.valueLength)))
            }
        }
    }

    func value(_ field: Field) -> String {
        bytes.getString(at: bytes.readerIndex + Int(field.valueStart), length: Int(field.valueLength)) ?? ""
    }

    func name(_ field: Field) -> String {
        bytes.getString(at: bytes.readerIndex + Int(field.nameStart), length: Int(field.nameLength)) ?? ""
    }

    func nameEquals(_ field: Field, _ lowercase: StaticString) -> Bool {
        guard Int(field.nameLength) == lowercase.utf8CodeUnitCount else { return false }
        return bytes.withUnsafeReadableBytes { raw in
            ASCII.equalsIgnoringCase(
                UnsafeRawBufferPointer(rebasing: raw[Int(field.nameStart)..<Int(field.nameStart + field.nameLength)]),
                lowercase)
        }
    }

    public func makeIterator() -> AnyIterator<(name: String, value: String)> {
        var index = 0
        return AnyIterator {
            guard index < fields.count else { return nil }
            defer { index += 1 }
            return (name(fields[index]), value(fields[index]))
        }
    }
}

/// ASCII helpers for header names and tokens.
public enum ASCII {
    /// `bytes` equals the lowercase literal, ignoring ASCII case.
    ///
    /// Header names are compared against known names on every request, so names of eight bytes or more go a word
    /// at a time; the last word overlaps the one before it rather than falling back to single bytes.
    @inlinable @inline(__always)
    public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard bytes.count == count, let base = bytes.baseAddress else { return bytes.count == count }
        let literal = UnsafeRawPointer(lowercase.utf8Start)
        guard count >= 8 else {
            for index in 0..<count
            where lowercased(base.load(fromByteOffset: index, as: UInt8.self))
                != literal.load(fromByteOffset: index, as: UInt8.self)
            {
                return false
            }
            return true
        }
        var index = 0
        while true {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            if lowercased(word) != literal.loadUnaligned(fromByteOffset: index, as: UInt64.self) { return false }
            if index == count - 8 { return true }
            index = min(index + 8, count - 8)
        }
    }

    /// `bytes` equals `lowercase` (bytes already in lower case), ignoring ASCII case in `bytes`.
    public static func equalsIgnoringCase(
        _ bytes: UnsafeRawBufferPointer, lowercased lowercase: UnsafeRawBufferPointer
    ) -> Bool {
        guard bytes.count == lowercase.count else { return false }
        for index in 0..<bytes.count where lowercased(bytes[index]) != lowercase[index] { return false }
        return true
    }

    /// Space or horizontal tab: the optional whitespace around field values and list members (RFC 9110 §5.6.3).
    @inlinable @inline(__always)
    public static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09
    }

    /// `bytes` without the spaces and tabs around them.
    @inlinable
    public static func trimmingBlanks(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end && isBlank(bytes[start]) { start += 1 }
        while end > start && isBlank(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    @usableFromInline @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// Every byte of `word` in `A`...`Z` turned into `a`...`z`, the others unchanged. Per byte, on its low seven
    /// bits: adding 0x3F sets the high bit from `A` up, adding 0x25 from just past `Z` up, and neither sum can
    /// carry into the next byte; bytes of 0x80 and above are left alone.
    @usableFromInline @inline(__always)
    static func lowercased(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let lowBits = word & (ones &* 0x7F)
        let fromA = lowBits &+ ones &* (0x80 - 0x41)
        let pastZ = lowBits &+ ones &* (0x80 - 0x5B)
        let upper = fromA & ~pastZ & ~word & (ones &* 0x80)
        return word | (upper >> 2)
    }

    /// Whether every byte is ASCII (so the bytes are valid UTF-8 as they are), eight bytes at a time.
    @inlinable @inline(__always)
    public static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var combined: UInt64 = 0
        var index = 0
        while index + 8 <= bytes.count {
            combined |= base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            combined |= UInt64(base.load(fromByteOffset: index, as: UInt8.self))
            index += 1
        }
        return combined & 0x8080_8080_8080_8080 == 0
    }

    /// RFC 9110 `tchar`: the characters of methods and header names. A range test, so the per-byte check of every
    /// header name needs no table lookup behind a lazy global.
    @inlinable @inline(__always)
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte &- UInt8(ascii: "a") < 26 || byte &- UInt8(ascii: "A") < 26 || byte &- UInt8(ascii: "0") < 10 {
            return true
        }
        switch byte {
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "#"),
            UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"),
            UInt8(ascii: "+"), UInt8(ascii: "^"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
