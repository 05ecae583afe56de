import Foundation
import TestSupport
import Testing

/// Edge and AppServer run as an unprivileged user, as their systemd units run them (`User=`). The other suites
/// run them as whoever runs the tests, usually root, which hides anything only root may do: Edge once set, on every
/// accepted TCP connection, an option only root may set, and so reset every connection of an unprivileged Edge.
@Suite struct UnprivilegedTests {
    let directory = TestDirectory()
    let appLog = LineCollector()
    let app: ChildProcess
    let edge: EdgeProcess

    var plainPort: Int { edge.ports[0] }
    var tlsPort: Int { edge.ports[1] }

    init() throws {
        let certificates = try TestCertificates(in: directory)
        directory.write("site/a.txt", "alpha\n")
        // AppServer lists only root and loopback in `forwarded_allow`; Edge, run as the same user as AppServer,
        // is believed because AppServer always believes its own user.
        app = try startAppServer(in: directory, app: "{media_dir: media}", log: appLog, unprivileged: true)
        edge = try EdgeProcess(
            directory: directory,
            listen: """
                  - address: 127.0.0.1:0
                  - address: 127.0.0.1:0
                    tls:
                      certificates:
                \(certificates.yamlList)
                """,
            config: """
                upstreams:
                  app: {servers: ["unix:\(directory.path)/app.sock"]}
                routes:
                  - {prefix: /static/, dir: site}
                  - {prefix: /, upstream: app}
                """,
            unprivileged: true)
    }

    @Test func servesPlainHTTPTLSAndHTTP2() throws {
        let plain = try edge.connect()
        try plain.send("GET /static/a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try plain.readResponse().bodyText == "alpha\n")
        try plain.send("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try plain.readResponse().bodyText == "Hello, World!")

        for path in ["/static/a.txt", "/plaintext"] {
            let result = try curl([
                "--http2", "-w", "\n%{http_code} %{http_version}", "https://localhost:\(tlsPort)\(path)",
                "--resolve", "localhost:\(tlsPort):127.0.0.1",
            ])
            #expect(result.output.hasSuffix("\n200 2"), "\(path): \(result.output)\n\(edge.errorLog)")
        }
    }

    @Test func theAppBelievesEdgeRunAsItsOwnUser() throws {
        let result = try curl(["https://localhost:\(tlsPort)/echo", "--resolve", "localhost:\(tlsPort):127.0.0.1"])
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        #expect(object?["client_address"] as? String == "127.0.0.1", "\(result.output)")
        #expect(object?["scheme"] as? String == "https")
    }
}
