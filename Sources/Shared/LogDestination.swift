/// Where a log goes: `"-"` for standard output, a file path, or `off` (quoted or YAML's `false`).
public enum LogDestination: Hashable, Sendable, Decodable, CustomStringConvertible {
    case standardOutput
    case file(String)
    case off

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let enabled = try? container.decode(Bool.self) {
            guard !enabled else { throw ConfigValueError("expected \"-\", a file path or off") }
            self = .off
            return
        }
        let text = try container.decode(String.self)
        switch text {
        case "": throw ConfigValueError("expected \"-\", a file path or off")
        case "-": self = .standardOutput
        case "off": self = .off
        default: self = .file(text)
        }
    }

    public var description: String {
        switch self {
        case .standardOutput: "standard output"
        case .file(let path): path
        case .off: "off"
        }
    }

    /// The same destination with a relative file path made absolute against the config file's directory.
    public func resolved(relativeTo configFile: String) -> LogDestination {
        guard case .file(let path) = self else { return self }
        return .file(ConfigFile.resolve(path, relativeTo: configFile))
    }
}
