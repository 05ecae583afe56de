import ArgumentParser
import EdgeCore
import Foundation
import Logging
import Shared

/// `edge`: the command line of DESIGN.md §2.
@main
struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge",
        abstract: "Edge: the HTTP front server (static files, limits, timeouts) that replaces nginx.",
        discussion:
            "Signals: HUP reload the config, TERM graceful stop, INT/QUIT fast stop, USR1 reopen the access log.",
        version: BuildInfo.version)

    @Option(name: .long, help: "YAML config file.")
    var config: String = "conf/edge.yaml"

    @Flag(name: .long, help: "Validate the config, directories and files; print every problem and exit 1 if any.")
    var check = false

    @Option(name: .long, help: "Error log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: "Error log lines as text (the default) or json, one object per line.")
    var logFormat: String = "text"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: unknown level '\(logLevel)'")
        }
        let format: LogFormat
        do { format = try LogFormat(parsing: logFormat) } catch { throw ValidationError("--log-format: \(error)") }
        let loaded: (config: EdgeConfig, warnings: [ConfigProblem])
        do {
            loaded = try EdgeConfig.load(from: config)
        } catch let problems as ConfigProblems {
            for problem in problems.problems { FileHandle.standardError.write(Data("edge: \(problem)\n".utf8)) }
            throw ExitCode.failure
        }
        for warning in loaded.warnings { FileHandle.standardError.write(Data("edge: \(warning)\n".utf8)) }
        if check {
            print("edge: \(config): configuration OK")
            return
        }
        LineLogHandler.bootstrap(level: level, format: format)
        let logger = Logger(label: "edge")
        do {
            try await EdgeRunner.run(
                config: loaded.config, configPath: config, logger: logger,
                environment: ProcessInfo.processInfo.environment)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
    }
}
