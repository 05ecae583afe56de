import Foundation
import NIOCore

/// The app's own settings (the `app:` mapping of the config file) and facts about the worker it runs in.
///
/// Read a setting with the typed accessors: a value of the wrong type is an error that names the key, which makes
/// `boot(settings:)` fail with a line an operator can act on (`app.media_dir: expected a string, found a list`).
public struct AppSettings: Sendable {
    /// The `app:` mapping, as written.
    public var values: [String: ConfigValue]
    /// Directory of the config file, for resolving relative paths in `values`.
    public var configDirectory: String
    /// This worker's generation (1 at start, +1 per reload).
    public var generation: Int
    /// The worker's event loops, for the app's clients that run on NIO (a database driver, an HTTP client): on the
    /// loops that serve the requests, a query's answer reaches its handler without a hop between threads. `nil`
    /// where no worker runs the app (`--run` commands, `AppTestClient`); clients then use their own.
    public var eventLoopGroup: (any EventLoopGroup)?

    public init(
        values: [String: ConfigValue], configDirectory: String, generation: Int,
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) {
        self.values = values
        self.configDirectory = configDirectory
        self.generation = generation
        self.eventLoopGroup = eventLoopGroup
    }

    /// The string under `key`, `nil` when the key is absent.
    public func string(_ key: String) throws(AppSettingError) -> String? {
        guard let value = values[key] else { return nil }
        guard case .string(let string) = value else { throw .init(key: key, expected: "a string", found: value) }
        return string
    }

    /// The string under `key`, or `defaultValue` when the key is absent.
    public func string(_ key: String, default defaultValue: String) throws(AppSettingError) -> String {
        try string(key) ?? defaultValue
    }

    /// The boolean under `key` (YAML's `true`/`false`), or `defaultValue` when the key is absent.
    public func bool(_ key: String, default defaultValue: Bool) throws(AppSettingError) -> Bool {
        guard let value = values[key] else { return defaultValue }
        guard case .bool(let bool) = value else { throw .init(key: key, expected: "true or false", found: value) }
        return bool
    }

    /// The integer under `key`, or `defaultValue` when the key is absent.
    public func int(_ key: String, default defaultValue: Int) throws(AppSettingError) -> Int {
        guard let value = values[key] else { return defaultValue }
        guard case .int(let int) = value else { throw .init(key: key, expected: "an integer", found: value) }
        return int
    }

    /// The number under `key` (an integer is taken as one), or `defaultValue` when the key is absent.
    public func double(_ key: String, default defaultValue: Double) throws(AppSettingError) -> Double {
        switch values[key] {
        case nil: return defaultValue
        case .double(let double): return double
        case .int(let int): return Double(int)
        case let other?: throw .init(key: key, expected: "a number", found: other)
        }
    }

    /// The list of strings under `key`, or an empty list when the key is absent.
    public func strings(_ key: String) throws(AppSettingError) -> [String] {
        guard let value = values[key] else { return [] }
        guard case .list(let items) = value else { throw .init(key: key, expected: "a list of strings", found: value) }
        var strings: [String] = []
        for item in items {
            guard case .string(let string) = item else {
                throw .init(key: key, expected: "a list of strings", found: item)
            }
            strings.append(string)
        }
        return strings
    }

    /// The settings under `app:` of `config`, read from `configPath`.
    init(
        config: AppServerConfig, configPath: String?, generation: Int, eventLoopGroup: (any EventLoopGroup)? = nil
    ) {
        // A config named without a directory (`--config appserver.yaml`) lives in the working directory.
        let directory = configPath.map { ($0 as NSString).deletingLastPathComponent }.flatMap { $0.isEmpty ? nil : $0 }
        self.init(
            values: config.app, configDirectory: directory ?? ".", generation: generation,
            eventLoopGroup: eventLoopGroup)
    }

    /// The path under `key` (or `defaultValue`), resolved against the config file's directory when relative, as
    /// every path in AppServer's own config is.
    public func path(_ key: String, default defaultValue: String) throws(AppSettingError) -> String {
        let path = try string(key, default: defaultValue)
        // A config named without a directory (`--config appserver.yaml`) lives in the working directory: an empty
        // `configDirectory` must not turn `var/media` into `/var/media`.
        return path.hasPrefix("/") ? path : (configDirectory.isEmpty ? "." : configDirectory) + "/" + path
    }
}

/// A setting under `app:` of the wrong type; its description names the key, what was expected and what was found.
public struct AppSettingError: Error, Equatable, CustomStringConvertible {
    public var key: String
    public var expected: String
    public var found: ConfigValue

    public init(key: String, expected: String, found: ConfigValue) {
        self.key = key
        self.expected = expected
        self.found = found
    }

    public var description: String { "app.\(key): expected \(expected), found \(found.kind)" }
}
