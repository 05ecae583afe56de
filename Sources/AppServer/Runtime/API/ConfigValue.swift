/// A free-form value under `app:`, handed to the app as is.
public enum ConfigValue: Hashable, Sendable, Decodable {
    case bool(Bool), int(Int), double(Double), string(String), list([ConfigValue]), map([String: ConfigValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ConfigValue].self) {
            self = .list(value)
        } else {
            self = .map(try container.decode([String: ConfigValue].self))
        }
    }

    /// The value as a boolean, if it is one.
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The value as a string, if it is one.
    public var string: String? { if case .string(let value) = self { value } else { nil } }

    /// What kind of value this is, for error messages.
    var kind: String {
        switch self {
        case .bool(let value): "\(value)"
        case .int(let value): "the integer \(value)"
        case .double(let value): "the number \(value)"
        case .string(let value): "the string \"\(value)\""
        case .list: "a list"
        case .map: "a mapping"
        }
    }
}
