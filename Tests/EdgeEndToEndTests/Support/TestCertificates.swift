import Foundation
import TestSupport

/// Self-signed certificates made with the openssl command for one test run: an RSA one for `localhost` and
/// `*.example.test` (the default), and an ECDSA one for `other.test`.
struct TestCertificates {
    let rsaCert: String
    let rsaKey: String
    let ecdsaCert: String
    let ecdsaKey: String

    init(in directory: TestDirectory, prefix: String = "") throws {
        rsaCert = directory.path + "/\(prefix)rsa-cert.pem"
        rsaKey = directory.path + "/\(prefix)rsa-key.pem"
        ecdsaCert = directory.path + "/\(prefix)ec-cert.pem"
        ecdsaKey = directory.path + "/\(prefix)ec-key.pem"
        try Self.make(
            cert: rsaCert, key: rsaKey, keyOptions: ["-newkey", "rsa:2048"], name: "localhost",
            alternatives: "DNS:localhost,DNS:*.example.test")
        try Self.make(
            cert: ecdsaCert, key: ecdsaKey, keyOptions: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            name: "other.test",
            alternatives: "DNS:other.test")
    }

    static func make(
        cert: String, key: String, keyOptions: [String], name: String, alternatives: String, days: Int = 30
    ) throws {
        let result = try runToCompletion(
            "/usr/bin/openssl",
            ["req", "-x509"] + keyOptions + [
                "-nodes", "-keyout", key, "-out", cert, "-days", String(days), "-subj", "/CN=\(name)",
                "-addext", "subjectAltName=\(alternatives)",
            ])
        guard result.status == 0 else { throw TestFailure("openssl req failed: \(result.output)") }
        chmod(key, 0o600)
    }

    /// A `listen` entry for one TLS listener on a free port serving both certificates.
    var tlsListener: String {
        """
          - address: 127.0.0.1:0
            tls:
              certificates:
        \(yamlList)
        """
    }

    /// The YAML `certificates` list for both, RSA first.
    var yamlList: String {
        """
                - {cert: \(rsaCert), key: \(rsaKey)}
                - {cert: \(ecdsaCert), key: \(ecdsaKey)}
        """
    }
}

/// Runs curl (which speaks TLS and HTTP/2) against Edge; `-k` because the certificates are self-signed.
func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runToCompletion("/usr/bin/curl", ["-sk", "--max-time", "20"] + arguments)
}

/// Runs `openssl s_client` against `port` with `arguments`, feeding it no input, and returns what it printed.
func opensslClient(_ port: Int, _ arguments: [String]) throws -> (status: Int32, output: String) {
    try runToCompletion(
        "/bin/sh",
        ["-c", "openssl s_client -connect 127.0.0.1:\(port) \(arguments.joined(separator: " ")) </dev/null 2>&1"])
}
