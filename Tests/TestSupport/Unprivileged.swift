import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Running a server or client as an unprivileged user, as production does (systemd's `User=`). Tests usually
/// run as root, which hides anything only root may do; when they do, these wrap commands in `setpriv` to run as
/// `nobody`. When the tests already run unprivileged, commands run as they are.
public enum Unprivileged {
    /// `nobody`'s uid and gid on Debian and Ubuntu.
    public static let uid: UInt32 = 65534

    /// Whether the wrapped commands run as a different user than the tests (only root can switch).
    public static var switchesUser: Bool { geteuid() == 0 }

    /// `executable` with `arguments`, run as `nobody` when the tests run as root. An executable `nobody` cannot
    /// reach (a checkout under `/root`, which only root may enter) is copied into `directory` first.
    public static func command(
        _ executable: String, _ arguments: [String], copyingInto directory: TestDirectory? = nil
    ) throws -> (executable: String, arguments: [String]) {
        guard switchesUser else { return (executable, arguments) }
        var reachable = executable
        if let directory, !isReachableByOthers(executable) {
            reachable = directory.path + "/bin/" + (executable as NSString).lastPathComponent
            try? FileManager.default.createDirectory(atPath: directory.path + "/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: executable, toPath: reachable)
        }
        return ("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", reachable] + arguments)
    }

    /// Whether every directory above `path` may be searched, and `path` run, by users other than its owner.
    private static func isReachableByOthers(_ path: String) -> Bool {
        var current = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        var info = stat()
        guard stat(current.path, &info) == 0, info.st_mode & S_IXOTH != 0 else { return false }
        while current.path != "/" {
            current.deleteLastPathComponent()
            guard stat(current.path, &info) == 0, info.st_mode & S_IXOTH != 0 else { return false }
        }
        return true
    }

    /// Gives `directory` and everything in it to `nobody`, so a server run as it can read its files and write its
    /// logs, as a deployment gives them to the service's user.
    public static func handOver(_ directory: TestDirectory) throws {
        guard switchesUser else { return }
        let result = try runToCompletion("/bin/chown", ["-R", "\(uid):\(uid)", directory.path])
        guard result.status == 0 else { throw TestFailure("chown failed: \(result.output)") }
    }
}
