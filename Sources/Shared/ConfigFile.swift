import Foundation
import Yams

/// Reads a YAML config file into a `Decodable` type, collecting every problem rather than stopping at the first.
public enum ConfigFile {
    /// Decodes `path` as `T`. Throws `ConfigProblems` when the file cannot be read or is not YAML at all; problems
    /// with single values are recorded in the returned diagnostics (with defaults in their place) so the caller can
    /// add its own checks before reporting everything with `throwIfErrors()`.
    public static func load<T: Decodable>(
        _ type: T.Type, from path: String
    ) throws -> (value: T, diagnostics: ConfigDiagnostics) {
        let diagnostics = ConfigDiagnostics(file: path)
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigProblems([
                ConfigProblem(file: path, keyPath: "", message: "cannot read file: \(describe(error))")
            ])
        }
        return try decode(type, from: text, diagnostics: diagnostics)
    }

    /// Decodes YAML `text`; problems are reported against `diagnostics.file`.
    public static func decode<T: Decodable>(
        _ type: T.Type, from text: String, diagnostics: ConfigDiagnostics
    ) throws -> (value: T, diagnostics: ConfigDiagnostics) {
        // An empty file means "all defaults", which a YAML decoder would otherwise reject as "no value".
        let yaml = text.allSatisfy(\.isWhitespace) ? "{}" : text
        do {
            let value = try YAMLDecoder().decode(type, from: yaml, userInfo: [.configDiagnostics: diagnostics])
            return (value, diagnostics)
        } catch let error as YamlError {
            diagnostics.record("not valid YAML: \(error)", keyPath: "")
        } catch {
            recordDecodingProblem(error, at: [], diagnostics)
        }
        throw ConfigProblems(diagnostics.problems)
    }

    /// `path` made absolute: relative paths are taken from the config file's directory, as the design requires.
    public static func resolve(_ path: String, relativeTo configFile: String) -> String {
        if path.hasPrefix("/") { return path }
        let configDirectory = (configFile as NSString).deletingLastPathComponent
        let base = configDirectory.isEmpty ? FileManager.default.currentDirectoryPath : configDirectory
        let absoluteBase = base.hasPrefix("/") ? base : FileManager.default.currentDirectoryPath + "/" + base
        return ((absoluteBase as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }

    private static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}
