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
    let config = "bind: \(bind)\nworkers: 1\naccess_log: off\n\(extra)forwarded_allow: \(trusted)\napp: \(app)\n"
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
