/// A format chosen by name in a config file or on the command line (`access_log_format`, `log_format`): one
/// parser and one error message for all of them.
public protocol NamedFormat: RawRepresentable, CaseIterable, Decodable where RawValue == String {}

extension NamedFormat {
    /// The format named `name`; throws `unknown format 'x' (expected a or b)`.
    public init(parsing name: String) throws {
        guard let format = Self(rawValue: name) else {
            let names = Self.allCases.map(\.rawValue).joined(separator: " or ")
            throw ConfigValueError("unknown format '\(name)' (expected \(names))")
        }
        self = format
    }

    public init(from decoder: any Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }
}
