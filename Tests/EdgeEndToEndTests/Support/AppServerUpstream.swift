import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The real AppServer as Edge's upstream: one worker on `app.sock` in `directory` (or on `bind`), believing the
/// forwarded headers of this test process's user (Edge runs as it) and of loopback, with `app` as its app settings
/// and `extra` as further top-level lines. Returns once its workers serve.
/// `unprivileged` runs it as `nobody`, owning `directory` (run Edge so too: it then shares AppServer's user).
func startAppServer(
    in directory: TestDirectory, bind: String = "unix:app.sock", app: String, extra: String = "", log: LineCollector,
    unprivileged: Bool = false
) throws -> ChildProcess {
    let trusted = "[\"\(getuid())\", \"127.0.0.1/32\"]"
    let accessLog = extra.contains("access_log:") ? "" : "access_log: off\n"
    let config = "bind: \(bind)\nworkers: 1\n\(accessLog)\(extra)forwarded_allow: \(trusted)\napp: \(app)\n"
    directory.write("app.yaml", config)
    let arguments = ["--config", directory.path + "/app.yaml"]
    let command =
        unprivileged
        ? try Unprivileged.command(builtProduct("appserver"), arguments, copyingInto: directory)
        : (builtProduct("appserver"), arguments)
    if unprivileged { try Unprivileged.handOver(directory) }
    let process = try ChildProcess(command.0, command.1, log: log)
    guard log.waitFor(containing: "workers serving", timeout: 30) != nil else {
        throw TestFailure("appserver not ready:\n\(log.text)")
    }
    return process
}

/// Edge in front of the real AppServer: `startAppServer`'s one worker on `app.sock`, and Edge with `app` as its
/// first upstream. `upstreams` adds further upstream lines (indented as entries of `upstreams:`), and `config` the
/// rest of Edge's configuration (its routes, limits, timeouts).
struct EdgeAndAppServer {
    let app: ChildProcess
    let appLog = LineCollector()
    let edge: EdgeProcess

    init(
        in directory: TestDirectory, listen: String = "  - address: 127.0.0.1:0",
        appSettings: String = "{test_routes: true, media_dir: media}", appExtra: String = "", upstreams: String = "",
        config: String
    ) throws {
        app = try startAppServer(in: directory, app: appSettings, extra: appExtra, log: appLog)
        edge = try EdgeProcess(
            directory: directory, listen: listen,
            config: "upstreams:\n  app: {servers: [\"unix:app.sock\"]}\n\(upstreams)\n\(config)")
    }
}
