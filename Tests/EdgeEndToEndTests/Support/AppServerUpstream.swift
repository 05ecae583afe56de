import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The real AppServer as Edge's upstream: one worker on `app.sock` in `directory`, believing the forwarded headers
/// of this test process's user (Edge runs as it), with `app` as its app settings and `extra` as further top-level
/// lines. Returns once its workers serve.
func startAppServer(in directory: TestDirectory, app: String, extra: String = "", log: LineCollector) throws -> ChildProcess {
    let config = "bind: unix:app.sock\nworkers: 1\naccess_log: off\n\(extra)forwarded_allow: [\"\(getuid())\"]\napp: \(app)\n"
    directory.write("app.yaml", config)
    let process = try ChildProcess(builtProduct("appserver"), ["--config", directory.path + "/app.yaml"], log: log)
    guard log.waitFor(containing: "workers serving", timeout: 30) != nil else {
        throw TestFailure("appserver not ready:\n\(log.text)")
    }
    return process
}
