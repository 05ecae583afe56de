import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The real AppServer as Edge's upstream: one worker on `app.sock` in `directory` (or on `bind`), believing the
/// forwarded headers of this test process's user (Edge runs as it) and of loopback, with `app` as its app settings
/// and `extra` as further top-level lines. Returns once its workers serve.
func startAppServer(
    in directory: TestDirectory, bind: String = "unix:app.sock", app: String, extra: String = "", log: LineCollector
) throws -> ChildProcess {
    let trusted = "[\"\(getuid())\", \"127.0.0.1/32\"]"
    let config = "bind: \(bind)\nworkers: 1\naccess_log: off\n\(extra)forwarded_allow: \(trusted)\napp: \(app)\n"
    directory.write("app.yaml", config)
    let process = try ChildProcess(builtProduct("appserver"), ["--config", directory.path + "/app.yaml"], log: log)
    guard log.waitFor(containing: "workers serving", timeout: 30) != nil else {
        throw TestFailure("appserver not ready:\n\(log.text)")
    }
    return process
}
