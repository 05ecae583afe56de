import ArgumentParser
import Shared

/// The entry point a user's `main` calls to run their app under AppServer.
///
/// The master/worker runtime lands with the AppServer issue; until then this parses the command line of
/// DESIGN.md §2 and says plainly that serving is not available.
public enum AppServer {
    /// Runs master or worker as the command line says.
    public static func main(app: some HTTPApplication) async {
        do {
            var command = try AppServerCommand.parseAsRoot()
            try command.run()
        } catch {
            AppServerCommand.exit(withError: error)
        }
    }
}

struct AppServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appserver",
        abstract: "AppServer: runs a Swift app in supervised worker processes (the Gunicorn of Swift).",
        version: BuildInfo.version)

    @Option(name: .long, help: "YAML config file.")
    var config: String?

    func run() throws {
        throw ValidationError("the master/worker runtime is not part of this build yet; see issue 3 in the tracker")
    }
}
