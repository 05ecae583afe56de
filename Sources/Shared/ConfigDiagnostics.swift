import NIOConcurrencyHelpers

/// Collects every problem found while decoding a config file, so `--check` can report them all at once
/// instead of stopping at the first.
///
/// Decoders reach it through `Decoder.diagnostics`; values that fail to decode are recorded here and replaced
/// by their defaults so decoding continues.
public final class ConfigDiagnostics: Sendable {
    private let recorded = NIOLockedValueBox<[ConfigProblem]>([])
    /// The file being decoded, named in every problem.
    public let file: String

    /// Diagnostics for `file`.
    public init(file: String) {
        self.file = file
    }

    /// Every problem recorded so far, in the order found.
    public var problems: [ConfigProblem] { recorded.withLockedValue { $0 } }

    /// Only the problems that make the config unusable.
    public var errors: [ConfigProblem] { problems.filter { !$0.isWarning } }

    /// Records a problem at `codingPath`.
    public func record(_ message: String, at codingPath: [any CodingKey], isWarning: Bool = false) {
        record(
            ConfigProblem(
                file: file, keyPath: codingPath.dottedPath, message: Self.oneLine(message), isWarning: isWarning))
    }

    /// Records a problem at a key path written out by hand (used by checks that run after decoding).
    public func record(_ message: String, keyPath: String, isWarning: Bool = false) {
        record(ConfigProblem(file: file, keyPath: keyPath, message: Self.oneLine(message), isWarning: isWarning))
    }

    /// Throws every problem recorded so far if any of them is an error.
    public func throwIfErrors() throws {
        if !errors.isEmpty { throw ConfigProblems(problems) }
    }

    /// Problems print one per line, so multi-line messages (YAML parser errors) are folded.
    private static func oneLine(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces() }.filter { !$0.isEmpty }.joined(
            separator: " ")
    }

    private func record(_ problem: ConfigProblem) {
        recorded.withLockedValue { problems in
            if !problems.contains(problem) { problems.append(problem) }
        }
    }
}

extension CodingUserInfoKey {
    /// Where a `ConfigDiagnostics` travels inside a decoder's `userInfo`.
    public static let configDiagnostics = CodingUserInfoKey(rawValue: "edge.configDiagnostics")!
}

extension Decoder {
    /// The diagnostics collector of this decoding run; a throwaway one when decoding outside a config loader.
    public var diagnostics: ConfigDiagnostics {
        userInfo[.configDiagnostics] as? ConfigDiagnostics ?? ConfigDiagnostics(file: "config")
    }
}
