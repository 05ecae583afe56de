/// A duration written in config files as `250ms`, `10s`, `5m`, `1h` (a bare number means seconds).
public struct ConfigDuration: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The duration in milliseconds.
    public var milliseconds: Int64

    /// A duration of `milliseconds` milliseconds.
    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// A duration of `seconds` seconds.
    public static func seconds(_ seconds: Int64) -> ConfigDuration { ConfigDuration(milliseconds: seconds * 1000) }

    /// Parses `250ms`, `10s`, `5m`, `1h`, `30`; `nil` when the text is not a duration.
    public init?(parsing text: String) {
        let trimmed = text.trimmingSpaces()
        let digits = trimmed.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        let multiplier: Int64
        switch trimmed.dropFirst(digits.count).trimmingSpaces() {
        case "ms": multiplier = 1
        case "", "s": multiplier = 1000
        case "m": multiplier = 60_000
        case "h": multiplier = 3_600_000
        default: return nil
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        self.milliseconds = product
    }

    /// The same duration as a Swift `Duration`.
    public var duration: Duration { .milliseconds(milliseconds) }

    public static func < (lhs: ConfigDuration, rhs: ConfigDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public var description: String {
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        return "\(milliseconds / 1000)s"
    }
}

extension ConfigDuration: Decodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let seconds = try? container.decode(Int64.self), seconds >= 0 {
            self = .seconds(seconds)
            return
        }
        let text = (try? container.decode(String.self)) ?? "?"
        guard let duration = ConfigDuration(parsing: text) else {
            throw ConfigValueError("invalid duration '\(text)' (expected e.g. 250ms, 10s, 5m)")
        }
        self = duration
    }
}
