/// One problem found in a config file: where it is and what is wrong.
public struct ConfigProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// The config file the problem is in.
    public var file: String
    /// Dotted key path such as `limits.max_header_size` or `routes[1].dir`; empty for the whole file.
    public var keyPath: String
    /// What is wrong, in words a user can act on.
    public var message: String
    /// Warnings are printed but do not fail `--check`.
    public var isWarning: Bool

    /// A problem at `keyPath` in `file`.
    public init(file: String, keyPath: String, message: String, isWarning: Bool = false) {
        self.file = file
        self.keyPath = keyPath
        self.message = message
        self.isWarning = isWarning
    }

    public var description: String {
        let severity = isWarning ? "warning: " : ""
        return keyPath.isEmpty ? "\(file): \(severity)\(message)" : "\(file): \(severity)\(keyPath): \(message)"
    }
}

/// All problems of one config file, thrown when the file cannot be used.
public struct ConfigProblems: Error, Sendable, CustomStringConvertible {
    /// The problems, one per line when printed.
    public var problems: [ConfigProblem]

    /// A failure made of `problems`.
    public init(_ problems: [ConfigProblem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

extension Array where Element == any CodingKey {
    /// `listen[0].address` for the path `listen`, 0, `address`.
    public var dottedPath: String {
        var result = ""
        for key in self {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                if !result.isEmpty { result += "." }
                result += key.stringValue
            }
        }
        return result
    }
}
