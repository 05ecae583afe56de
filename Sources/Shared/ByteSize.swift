/// A size in bytes, written in config files as `512`, `16KiB`, `100MiB` or `1GiB`.
///
/// Units are binary (KiB = 1024) as in nginx; `K`, `KB`, `M`, `MB`, `G`, `GB` are accepted as the same
/// binary units because that is what nginx users write.
public struct ByteSize: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number of bytes.
    public var bytes: Int

    /// A size of `bytes` bytes.
    public init(bytes: Int) {
        self.bytes = bytes
    }

    /// Parses `512`, `16KiB`, `100MiB`, `1GiB`; `nil` when the text is not a size.
    public init?(parsing text: String) {
        let trimmed = text.trimmingSpaces()
        let digits = trimmed.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, let value = Int(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces().lowercased()
        let multiplier: Int
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        default: return nil
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        self.bytes = product
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    public var description: String {
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)]
        where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(bytes)"
    }

    /// Convenience for literals in code: `.kibibytes(16)`.
    public static func kibibytes(_ n: Int) -> ByteSize { ByteSize(bytes: n << 10) }
    /// Convenience for literals in code: `.mebibytes(100)`.
    public static func mebibytes(_ n: Int) -> ByteSize { ByteSize(bytes: n << 20) }
}

extension ByteSize: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self), number >= 0 {
            self.init(bytes: number)
            return
        }
        let text = (try? container.decode(String.self)) ?? "?"
        guard let size = ByteSize(parsing: text) else {
            throw ConfigValueError("invalid size '\(text)' (expected e.g. 512, 16KiB, 100MiB)")
        }
        self = size
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
