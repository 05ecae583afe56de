/// The syntax of a `Host` value and an absolute-form target's authority (RFC 9110 §7.2, RFC 3986 §3.2.2):
/// `uri-host [":" port]`, where `uri-host` is a bracketed IP literal or a registered name.
///
/// Stricter than the URI grammar in one place: a comma, legal in a registered name, is refused, since a `Host` with
/// a comma is two names joined by a proxy or an attempt to look like one, and no DNS name has one. User information
/// (`user@host`), paths, whitespace and empty values are refused as the grammar says.
public enum HostValidation {
    public static func isValid(_ value: UnsafeRawBufferPointer) -> Bool {
        guard let first = value.first else { return false }
        var index = 0
        if first == UInt8(ascii: "[") {
            guard let close = value.firstIndex(of: UInt8(ascii: "]")), close > 1 else { return false }
            for byte in value[1..<close] where !isIn(byte, ipLiteralBytes) { return false }
            index = close + 1
        } else {
            while index < value.count && isIn(value[index], registeredNameBytes) { index += 1 }
            guard index > 0 else { return false }
        }
        guard index < value.count else { return true }
        // The port: digits after the colon (the grammar allows none).
        guard value[index] == UInt8(ascii: ":") else { return false }
        index += 1
        while index < value.count {
            guard value[index] &- UInt8(ascii: "0") < 10 else { return false }
            index += 1
        }
        return true
    }

    public static func isValid(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { isValid(UnsafeRawBufferPointer($0)) }
    }

    /// A set of ASCII bytes as two 64-bit masks (bit `b` of `low` for byte `b` < 64, of `high` for `b - 64`):
    /// every request's `Host` is checked a byte at a time, and a `switch` over the allowed characters cost about 14
    /// instructions a byte. Literals, so no lazy global stands in the loop; `HostValidationTests` rebuilds them
    /// from the characters.
    struct ByteSet {
        let low: UInt64
        let high: UInt64
    }

    @inline(__always)
    static func isIn(_ byte: UInt8, _ set: ByteSet) -> Bool {
        byte < 64 ? (set.low >> UInt64(byte)) & 1 != 0 : byte < 128 && (set.high >> UInt64(byte - 64)) & 1 != 0
    }

    /// unreserved / pct-encoded / sub-delims, without the comma: `A-Z a-z 0-9 - . _ ~ % ! $ & ' ( ) * + ; =`.
    static let registeredNameBytes = ByteSet(low: 0x2BFF_6FF2_0000_0000, high: 0x47FF_FFFE_87FF_FFFE)

    /// Inside brackets, IPv6 (with IPv4 in it): `0-9 a-f A-F : .`.
    static let ipLiteralBytes = ByteSet(low: 0x07FF_4000_0000_0000, high: 0x0000_007E_0000_007E)
}
