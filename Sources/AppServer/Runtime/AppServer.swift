import ArgumentParser
import Foundation
import Logging
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The entry point a user's `main` calls to run an app under AppServer: `await AppServer.main(app: MyApp())`.
/// It runs the master or, when started by the master, a worker, as the command line says.
public enum AppServer {
    public static func main(app: some HTTPApplication) async -> Never {
        let command = AppServerCommand.parseOrExit()
        exit(await command.run(app: app))
    }
}

struct AppServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appserver",
        abstract: "AppServer: runs a Swift app in supervised worker processes (the Gunicorn of Swift).",
        discussion: """
            Signals to the master: HUP reload (new workers from the binary and config on disk, then the old ones \
            stop), TERM graceful stop, INT/QUIT fast stop, TTIN/TTOU one worker more/fewer, USR1 reopen logs.
            """,
        version: BuildInfo.version)

    @Option(name: .long, help: "YAML config file (flags below override it).") var config: String?
    @Flag(name: .long, help: "Validate the configuration and exit: 0 if usable, 1 with one line per problem.")
    var check = false
    @Flag(name: .long, help: .hidden) var worker = false
    @Option(name: .long, help: "Run one of the app's commands (the reference app: init-db) and exit.")
    var run: String?
    @OptionGroup var overrides: CommandLineOverrides

    func run<App: HTTPApplication>(app: App) async -> Int32 {
        let loaded: AppServerConfig
        do {
            loaded = try AppServerConfig.load(path: config, overrides: overrides)
        } catch let problems as ConfigProblems {
            for problem in problems.problems { FileHandle.standardError.write(Data("appserver: \(problem)\n".utf8)) }
            return 1
        } catch {
            FileHandle.standardError.write(Data("appserver: \(error)\n".utf8))
            return 1
        }
        if check {
            for warning in loaded.warnings { print("appserver: warning: \(warning)") }
            print("appserver: \(config ?? "defaults"): configuration OK")
            return 0
        }
        LineLogHandler.bootstrap(level: Logger.Level(rawValue: loaded.logLevel) ?? .info, format: loaded.logFormat)
        if let command = run {
            do {
                try await app.run(
                    command: command, settings: AppSettings(config: loaded, configPath: config, generation: 1))
                return 0
            } catch {
                FileHandle.standardError.write(Data("appserver: --run \(command): \(error)\n".utf8))
                return 1
            }
        }
        var logger = Logger(label: worker ? "appserver.worker" : "appserver.master")
        logger[metadataKey: "pid"] = "\(getpid())"
        if worker {
            logger[metadataKey: "generation"] = "\(ProcessInfo.processInfo.environment["APPSERVER_GENERATION"] ?? "1")"
            return await WorkerRuntime.run(app: app, config: loaded, configPath: config, logger: logger)
        }
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var arguments = config.map { ["--config", $0] } ?? []
        arguments += overrides.arguments
        let launch = MasterRuntime.Launch(
            configPath: config, overrides: overrides, arguments: arguments, executable: executable)
        return await MasterRuntime(
            launch: launch, config: loaded, logger: logger, environment: ProcessInfo.processInfo.environment
        ).run()
    }
}
