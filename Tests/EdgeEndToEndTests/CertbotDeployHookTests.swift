import Foundation
import TestSupport
import Testing

/// `conf/certbot/deploy-hook` as certbot runs it after a renewal: the new pair reaches Edge's TLS directory with the
/// key readable by Edge's group only, Edge is reloaded and serves it; a renewal that does not check puts the
/// previous pair back and reloads nothing.
@Suite struct CertbotDeployHookTests {
    static let hook =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/conf/certbot/deploy-hook"

    let directory = TestDirectory()
    var lineage: String { directory.path + "/live/example.test" }
    var tls: String { directory.path + "/tls" }

    /// certbot's lineage: fullchain.pem and privkey.pem, for a certificate named `name`.
    func renew(as name: String) throws {
        try FileManager.default.createDirectory(atPath: lineage, withIntermediateDirectories: true)
        try TestCertificates.make(
            cert: lineage + "/fullchain.pem", key: lineage + "/privkey.pem",
            keyOptions: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], name: name,
            alternatives: "DNS:localhost")
    }

    func runHook(config: String, reload: String) throws -> (status: Int32, output: String) {
        let group = try runToCompletion("/usr/bin/id", ["-gn"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let user = try runToCompletion("/usr/bin/id", ["-un"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        return try runToCompletion(
            "/usr/bin/env",
            [
                "RENEWED_LINEAGE=\(lineage)", "EDGE_TLS_DIR=\(tls)", "EDGE_GROUP=\(group)", "EDGE_USER=\(user)",
                "EDGE_CONFIG=\(config)", "EDGE_BIN=\(EdgeProcess.binary)", "EDGE_RELOAD=\(reload)", Self.hook,
            ])
    }

    @Test func aRenewalReachesEdgeAndABadOneIsRolledBack() throws {
        directory.write("site/a.txt", "alpha")
        let listener = """
              - address: 127.0.0.1:0
                tls: {certificates: [{cert: \(tls)/example.test.pem, key: \(tls)/example.test.key}]}
            """
        // The first certificate: Edge is not running yet, so nothing to reload.
        try renew(as: "first.localhost")
        directory.write("edge.yaml", "listen:\n\(listener)\nroutes: [{prefix: /, dir: site}]\n")
        let first = try runHook(config: directory.path + "/edge.yaml", reload: "true")
        #expect(first.status == 0, "\(first.output)")
        let keyMode = (try FileManager.default.attributesOfItem(atPath: tls + "/example.test.key"))[.posixPermissions]
        #expect(keyMode as? Int == 0o640)

        let edge = try EdgeProcess(directory: directory, listen: listener, config: "routes: [{prefix: /, dir: site}]")
        #expect(try opensslClient(edge.port, ["-servername", "localhost"]).output.contains("CN = first.localhost"))

        try renew(as: "renewed.localhost")
        let renewed = try runHook(config: edge.configPath, reload: "kill -HUP \(edge.process.processIdentifier)")
        #expect(renewed.status == 0, "\(renewed.output)")
        #expect(edge.waitForLog(containing: "HUP: configuration reloaded") != nil)
        #expect(try opensslClient(edge.port, ["-servername", "localhost"]).output.contains("CN = renewed.localhost"))

        // A key that does not belong to the certificate: refused by the check, the renewed pair stays in place.
        let certificate = try String(contentsOfFile: lineage + "/fullchain.pem", encoding: .utf8)
        try renew(as: "broken.localhost")
        directory.write("live/example.test/fullchain.pem", certificate)
        let broken = try runHook(config: edge.configPath, reload: "kill -HUP \(edge.process.processIdentifier)")
        #expect(broken.status == 1, "\(broken.output)")
        #expect(broken.output.contains("the previous one is back in place"), "\(broken.output)")
        let check = try runToCompletion(EdgeProcess.binary, ["--check", "--config", edge.configPath])
        #expect(check.status == 0, "the files left behind do not check: \(check.output)")
        #expect(try opensslClient(edge.port, ["-servername", "localhost"]).output.contains("CN = renewed.localhost"))
        #expect(edge.errorLog.components(separatedBy: "HUP:").count == 2, "reloaded after the bad renewal")
    }
}
