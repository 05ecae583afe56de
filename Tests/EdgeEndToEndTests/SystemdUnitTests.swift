import Foundation
import TestSupport
import Testing

/// The shipped units, checked by systemd's own tools: `systemd-analyze verify` finds nothing wrong with them, and
/// `systemd-analyze security` rates each service "OK" (exposure at most 2.0).
@Suite struct SystemdUnitTests {
    static let units =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/conf/systemd"

    @Test func verifyFindsNothingButWhatThisHostCannotKnow() throws {
        let files = ["edge.service", "edge.socket", "appserver.service", "appserver.socket"].map {
            Self.units + "/" + $0
        }
        let (_, output) = try runToCompletion("/usr/bin/systemd-analyze", ["verify"] + files)
        // Two things the test host cannot know: the binaries are not installed here, and systemd before 253 (Debian
        // 12 has 252) does not know Type=notify-reload and ReloadSignal=, which Ubuntu 24.04's 255 does.
        let unexplained = output.split(separator: "\n").filter { line in
            !(line.contains("Command /usr/local/bin/") && line.contains("is not executable"))
                && !line.contains("Failed to parse service type, ignoring: notify-reload")
                && !line.contains("Unknown key 'ReloadSignal'")
        }
        #expect(unexplained.isEmpty, "\(unexplained)")
    }

    @Test(arguments: ["edge.service", "appserver.service"])
    func securityRatesTheServiceOK(unit: String) throws {
        // --threshold is in tenths: 20 is an exposure of 2.0.
        let (status, output) = try runToCompletion(
            "/usr/bin/systemd-analyze", ["security", "--offline=yes", "--threshold=20", Self.units + "/" + unit])
        #expect(status == 0, "\(output.split(separator: "\n").last ?? "")")
        #expect(output.contains("Overall exposure level for \(unit):"))
    }
}

/// What `scripts/install` puts in place must start as it is: every socket `edge.socket` hands over needs a `listen`
/// entry in the installed `edge.yaml` (Edge refuses to start with an unclaimed inherited socket), and the example
/// for a domain behind Cloudflare covers the sockets its comment tells the user to add.
@Suite struct InstalledSocketsTests {
    static let conf =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/conf"

    /// `0.0.0.0:80` and `[::]:80` as the socket unit says them, in Edge's spelling (`*:80` is every IPv4 address).
    static func socketAddresses(includingCommented: Bool) throws -> Set<String> {
        let unit = try String(contentsOfFile: conf + "/systemd/edge.socket", encoding: .utf8)
        return Set(
            unit.split(separator: "\n").compactMap { line in
                let text =
                    includingCommented && line.hasPrefix("#ListenStream=") ? String(line.dropFirst()) : String(line)
                guard text.hasPrefix("ListenStream=") else { return nil }
                return String(text.dropFirst("ListenStream=".count)).replacingOccurrences(of: "0.0.0.0:", with: "*:")
            })
    }

    static func listenAddresses(_ file: String) throws -> Set<String> {
        let yaml = try String(contentsOfFile: conf + "/install/" + file, encoding: .utf8)
        return Set(
            yaml.split(separator: "\n").compactMap { line in
                guard let range = line.range(of: "- address: ") else { return nil }
                return line[range.upperBound...].split(separator: " ").first.map {
                    $0.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                }
            })
    }

    @Test func theInstalledConfigClaimsEverySocketTheUnitHandsOver() throws {
        let sockets = try Self.socketAddresses(includingCommented: false)
        #expect(!sockets.isEmpty)
        #expect(sockets.isSubset(of: try Self.listenAddresses("edge.yaml")), "\(sockets)")
    }

    @Test func theCloudflareExampleClaimsTheSocketsWithTLSToo() throws {
        let sockets = try Self.socketAddresses(includingCommented: true)
        #expect(sockets.count == 4)
        #expect(sockets == (try Self.listenAddresses("edge-cloudflare.yaml")), "\(sockets)")
    }
}

/// The Cloudflare example passes `edge --check` once its host paths point at files that exist.
@Suite struct CloudflareExampleTests {
    @Test func theExampleChecks() throws {
        let directory = TestDirectory()
        let certificates = try TestCertificates(in: directory)
        var yaml = try String(
            contentsOfFile: InstalledSocketsTests.conf + "/install/edge-cloudflare.yaml", encoding: .utf8)
        for (host, local) in [
            ("/etc/edge/tls/example.com.pem", certificates.rsaCert),
            ("/etc/edge/tls/example.com.key", certificates.rsaKey),
            ("/var/log/edge/", directory.path + "/"), ("/var/lib/", directory.path + "/"),
            ("/var/www/", directory.path + "/"),
        ] {
            yaml = yaml.replacingOccurrences(of: host, with: local)
        }
        directory.write("acme/.well-known/acme-challenge/token", "x")
        directory.write("appserver/media/a.txt", "x")
        let path = directory.write("edge.yaml", yaml)
        let check = try runToCompletion(EdgeProcess.binary, ["--check", "--config", path])
        #expect(check.status == 0, "\(check.output)")
    }
}
