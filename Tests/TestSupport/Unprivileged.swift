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

    /// `executable` with `arguments`, run as `nobody` when the tests run as root.
    public static func command(_ executable: String, _ arguments: [String]) -> (executable: String, arguments: [String]) {
        guard switchesUser else { return (executable, arguments) }
        return ("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", executable] + arguments)
    }

    /// Gives `directory` and everything in it to `nobody`, so a server run as it can read its files and write its
    /// logs, as a deployment gives them to the service's user.
    public static func handOver(_ directory: TestDirectory) throws {
        guard switchesUser else { return }
        let result = try runToCompletion("/bin/chown", ["-R", "\(uid):\(uid)", directory.path])
        guard result.status == 0 else { throw TestFailure("chown failed: \(result.output)") }
    }
}
