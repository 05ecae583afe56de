import Foundation
import TestSupport
import Testing

/// `scripts/install --destdir`: what lands where, with which modes; a second run keeps a user's configuration; and
/// `--uninstall` takes back what it put, leaving configuration, logs and media.
@Suite struct InstallScriptTests {
    let stage = TestDirectory()
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let binaries = URL(fileURLWithPath: builtProduct("edge")).deletingLastPathComponent().path

    func install(_ extra: [String] = []) throws -> (status: Int32, output: String) {
        try runToCompletion(
            Self.repository + "/scripts/install", ["--destdir", stage.path, "--binaries", Self.binaries] + extra)
    }

    func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: stage.path + path))?[.posixPermissions] as? Int
    }

    @Test func installsEverythingWithItsModeAndUninstallsWhatItPut() throws {
        let first = try install()
        #expect(first.status == 0, "\(first.output)")
        let expected: [(String, Int)] = [
            ("/usr/local/bin/edge", 0o755), ("/usr/local/bin/appserver", 0o755),
            ("/etc/systemd/system/edge.service", 0o644), ("/etc/systemd/system/edge.socket", 0o644),
            ("/etc/systemd/system/appserver.service", 0o644), ("/etc/systemd/system/appserver.socket", 0o644),
            ("/etc/logrotate.d/edge-appserver", 0o644), ("/etc/edge/edge.yaml", 0o640),
            ("/etc/appserver/appserver.yaml", 0o640), ("/var/log/edge", 0o750), ("/var/log/appserver", 0o750),
            ("/var/lib/appserver/media", 0o750),
        ]
        for (path, wanted) in expected {
            #expect(mode(path) == wanted, "\(path): \(mode(path).map { String($0, radix: 8) } ?? "missing")")
        }
        #expect(
            FileManager.default.contentsEqual(
                atPath: stage.path + "/usr/local/bin/edge", andPath: Self.binaries + "/edge"))
        #expect(
            FileManager.default.contentsEqual(
                atPath: stage.path + "/etc/edge/edge.yaml", andPath: Self.repository + "/conf/install/edge.yaml"))

        // A second run replaces binaries and units but never a configuration the user changed.
        stage.write("etc/edge/edge.yaml", "# mine\n")
        #expect(try install().status == 0)
        #expect(try String(contentsOfFile: stage.path + "/etc/edge/edge.yaml", encoding: .utf8) == "# mine\n")

        // A newer build replaces the binaries and keeps the old ones; --rollback swaps them back, and again forward.
        let newer = TestDirectory()
        newer.write("edge", "#!/bin/sh\necho newer edge\n")
        newer.write("appserver", "#!/bin/sh\necho newer appserver\n")
        let upgraded = try runToCompletion(
            Self.repository + "/scripts/install", ["--destdir", stage.path, "--binaries", newer.path])
        #expect(upgraded.status == 0, "\(upgraded.output)")
        let bin = stage.path + "/usr/local/bin"
        #expect(FileManager.default.contentsEqual(atPath: bin + "/edge.previous", andPath: Self.binaries + "/edge"))
        #expect(try install(["--rollback"]).status == 0)
        #expect(FileManager.default.contentsEqual(atPath: bin + "/edge", andPath: Self.binaries + "/edge"))
        #expect(FileManager.default.contentsEqual(atPath: bin + "/appserver", andPath: Self.binaries + "/appserver"))
        #expect(try install(["--rollback"]).status == 0)
        #expect(try String(contentsOfFile: bin + "/edge", encoding: .utf8).contains("newer edge"))
        #expect(mode("/usr/local/share/edge-appserver/certbot-deploy-hook") == 0o755)

        let removed = try install(["--uninstall"])
        #expect(removed.status == 0, "\(removed.output)")
        for path in [
            "/usr/local/bin/edge", "/usr/local/bin/appserver", "/usr/local/bin/edge.previous",
            "/usr/local/share/edge-appserver/certbot-deploy-hook", "/etc/systemd/system/edge.service",
            "/etc/systemd/system/appserver.socket", "/etc/logrotate.d/edge-appserver",
        ] {
            #expect(mode(path) == nil, "\(path) is still there")
        }
        for path in [
            "/etc/edge/edge.yaml", "/etc/appserver/appserver.yaml", "/var/log/edge", "/var/lib/appserver/media",
        ] {
            #expect(mode(path) != nil, "\(path) was removed")
        }
    }
}
