import ArgumentParser
import Shared

/// The gunicorn-style flags of DESIGN.md §2; each one set overrides the config file.
struct CommandLineOverrides: ParsableArguments, Sendable {
    @Option(help: "unix:PATH or HOST:PORT to listen on.") var bind: String?
    @Option(help: "Number of worker processes.") var workers: Int?
    @Option(help: "Seconds a silent worker may stay silent before it is aborted.") var timeout: String?
    @Option(name: .customLong("graceful-timeout"), help: "Seconds workers get to finish on stop or reload.")
    var gracefulTimeout: String?
    @Option(name: .customLong("max-requests"), help: "Recycle a worker after this many requests (0 = never).")
    var maxRequests: Int?
    @Option(name: .customLong("max-requests-jitter"), help: "Random extra requests added to --max-requests per worker.")
    var maxRequestsJitter: Int?
    @Option(help: "Write the master's pid to this file.") var pid: String?
    @Option(name: .customLong("socket-mode"), help: "Octal permissions of a Unix socket, e.g. 0660.") var socketMode:
        String?
    @Option(name: .customLong("access-log"), help: "\"-\" for stdout, a file, or off.") var accessLog: String?
    @Option(name: .customLong("access-log-format"), help: "combined (nginx's, as Edge writes it) or json.")
    var accessLogFormat: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?
    @Option(name: .customLong("log-format"), help: "Error log lines as text or json (one object per line).")
    var logFormat: String?

    init() {}

    /// `config` with every given flag applied; throws naming the flag when a value is invalid.
    func apply(to config: AppServerConfig) throws -> AppServerConfig {
        var config = config
        if let bind { config.bind = try flag("--bind") { try BindAddress(parsing: bind) } }
        if let workers { config.workers = workers }
        if let timeout { config.timeout = try duration("--timeout", timeout) }
        if let gracefulTimeout { config.gracefulTimeout = try duration("--graceful-timeout", gracefulTimeout) }
        if let maxRequests { config.maxRequests = maxRequests }
        if let maxRequestsJitter { config.maxRequestsJitter = maxRequestsJitter }
        if let pid { config.pidFile = pid }
        if let socketMode {
            guard let mode = AppServerConfig.parseMode(socketMode) else {
                throw ValidationError("--socket-mode: invalid mode '\(socketMode)' (expected octal like 0660)")
            }
            config.socketMode = mode
        }
        if let accessLog {
            config.accessLog = accessLog == "-" ? .standardOutput : accessLog == "off" ? .off : .file(accessLog)
        }
        if let logLevel { config.logLevel = logLevel }
        if let accessLogFormat {
            config.accessLogFormat = try flag("--access-log-format") { try AccessLogFormat(parsing: accessLogFormat) }
        }
        if let logFormat {
            config.logFormat = try flag("--log-format") { try LogFormat(parsing: logFormat) }
        }
        let diagnostics = ConfigDiagnostics(file: "command line")
        config.validate(into: diagnostics, path: [])
        if let problem = diagnostics.errors.first {
            throw ValidationError("--\(problem.keyPath.replacingOccurrences(of: "_", with: "-")): \(problem.message)")
        }
        return config
    }

    private func duration(_ name: String, _ text: String) throws -> ConfigDuration {
        guard let value = ConfigDuration(parsing: text) else {
            throw ValidationError("\(name): invalid duration '\(text)'")
        }
        return value
    }

    private func flag<T>(_ name: String, _ parse: () throws -> T) throws -> T {
        do { return try parse() } catch { throw ValidationError("\(name): \(error)") }
    }

    /// The flags as given, to pass on to workers unchanged.
    var arguments: [String] {
        var result: [String] = []
        func add(_ name: String, _ value: CustomStringConvertible?) {
            if let value { result += [name, value.description] }
        }
        add("--bind", bind)
        add("--workers", workers)
        add("--timeout", timeout)
        add("--graceful-timeout", gracefulTimeout)
        add("--max-requests", maxRequests)
        add("--max-requests-jitter", maxRequestsJitter)
        add("--pid", pid)
        add("--socket-mode", socketMode)
        add("--access-log", accessLog)
        add("--access-log-format", accessLogFormat)
        add("--log-level", logLevel)
        add("--log-format", logFormat)
        return result
    }
}

extension AppServerConfig {
    /// The file at `path` (defaults when `nil`), with relative paths resolved, then `overrides` applied.
    static func load(path: String?, overrides: CommandLineOverrides) throws -> AppServerConfig {
        var config = AppServerConfig()
        if let path {
            let (decoded, diagnostics) = try ConfigFile.load(AppServerConfig.self, from: path)
            try diagnostics.throwIfErrors()
            config = decoded
            if case .unix(let socket) = config.bind {
                config.bind = .unix(path: ConfigFile.resolve(socket, relativeTo: path))
            }
            config.accessLog = config.accessLog.resolved(relativeTo: path)
            config.pidFile = config.pidFile.map { ConfigFile.resolve($0, relativeTo: path) }
            config.admin = config.admin?.resolved(relativeTo: path)
        }
        return try overrides.apply(to: config)
    }
}
