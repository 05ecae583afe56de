import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// TLS termination and HTTP/2 with certificates made in the test run: versions, SNI, ALPN, files over TLS and h2,
/// the https redirect listener, HSTS, handshake deadlines and certificate reload.
@Suite struct TLSTests {
    let directory = TestDirectory()
    let certificates: TestCertificates
    let edge: EdgeProcess
    /// 300 KB of bytes that never repeat in a way a broken chunking would hide.
    let big: Data

    var tlsPort: Int { edge.ports[1] }
    var plainPort: Int { edge.ports[0] }

    init() throws {
        certificates = try TestCertificates(in: directory)
        big = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) })
        directory.write("site/big.bin", big)
        directory.write("site/a.txt", "alpha\n")
        directory.write("site/small.bin", Data([1, 2, 3]))
        edge = try EdgeProcess(
            directory: directory,
            listen: """
                  - address: 127.0.0.1:0
                    redirect_to_https: true
                  - address: 127.0.0.1:0
                    tls:
                      certificates:
                \(certificates.yamlList)
                      hsts: 600
                """,
            config: """
                routes:
                  - {prefix: /, dir: site}
                timeouts: {header: 1s}
                """)
    }

    @Test func tls12And13AreAcceptedAndOlderVersionsRefused() throws {
        for version in ["-tls1_2", "-tls1_3"] {
            let result = try opensslClient(tlsPort, [version, "-servername", "localhost"])
            #expect(result.output.contains("CN = localhost"), "\(version): \(result.output)")
            #expect(result.output.contains(version == "-tls1_2" ? "TLSv1.2" : "TLSv1.3"))
        }
        for version in ["-tls1", "-tls1_1"] {
            // SECLEVEL=0 lets the client offer the old version; Edge must still refuse it.
            let result = try opensslClient(tlsPort, [version, "-cipher", "DEFAULT@SECLEVEL=0"])
            #expect(
                !result.output.contains("BEGIN CERTIFICATE") && !result.output.contains("Cipher is ECDHE"),
                "\(version): \(result.output)")
        }
        let weak = try opensslClient(tlsPort, ["-tls1_2", "-cipher", "AES128-SHA"])
        #expect(
            weak.output.contains("handshake failure") || weak.output.contains("alert"),
            "non-forward-secret suite accepted: \(weak.output)")
    }

    @Test func theServerOrderOfTLS12SuitesWins() throws {
        // The client prefers ChaCha20; Edge's list puts AES-128-GCM first, and both are allowed.
        let result = try opensslClient(
            tlsPort, ["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256"])
        #expect(result.output.contains("Cipher is ECDHE-RSA-AES128-GCM-SHA256"), "\(result.output)")
    }

    @Test func sniPicksTheCertificateExactWildcardOrDefault() throws {
        #expect(try opensslClient(tlsPort, ["-servername", "other.test"]).output.contains("CN = other.test"))
        #expect(try opensslClient(tlsPort, ["-servername", "www.example.test"]).output.contains("CN = localhost"))
        #expect(try opensslClient(tlsPort, ["-servername", "unknown.test"]).output.contains("CN = localhost"))
        #expect(try opensslClient(tlsPort, ["-noservername"]).output.contains("CN = localhost"))
    }

    @Test func http2IsNegotiatedAndServesFilesRangesAndConditionals() throws {
        let url = "https://localhost:\(tlsPort)/big.bin"
        let version = try curl(["--http2", "-o", "/dev/null", "-w", "%{http_version}", url])
        #expect(version.output == "2")
        for http in ["--http1.1", "--http2"] {
            let output = directory.path + "/download\(http).bin"
            _ = try curl([http, "-o", output, url])
            #expect(FileManager.default.contents(atPath: output) == big, "\(http) body differs")
        }
        let range = try curl([
            "--http2", "-r", "1000-1099", "-o", directory.path + "/range.bin", "-w", "%{http_code}", url,
        ])
        #expect(range.output == "206")
        #expect(FileManager.default.contents(atPath: directory.path + "/range.bin") == big.subdata(in: 1000..<1100))
        let headers = try curl(["--http2", "-I", url]).output
        let etag = try #require(headers.split(separator: "\r\n").first { $0.hasPrefix("etag:") }?.dropFirst(6))
        let conditional = try curl([
            "--http2", "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: \(etag)", url,
        ])
        #expect(conditional.output == "304")
        #expect(headers.contains("strict-transport-security: max-age=600"))
        #expect(!headers.contains("connection:"))
        // Small files (kept in memory, sent in one write) carry the header too, over both protocols.
        for http in ["--http2", "--http1.1"] {
            for path in ["/a.txt", "/small.bin"] {
                let small = try curl([http, "-s", "-D", "-", "-o", "/dev/null", "https://localhost:\(tlsPort)\(path)"])
                    .output.lowercased()
                #expect(small.contains("strict-transport-security: max-age=600"), "\(http) \(path): \(small)")
            }
        }
    }

    @Test func manyConcurrentStreamsOnFewConnections() throws {
        let result = try runToCompletion(
            "/usr/bin/h2load", ["-n", "600", "-c", "2", "-m", "50", "https://localhost:\(tlsPort)/a.txt"])
        #expect(result.output.contains("Application protocol: h2"), "\(result.output)")
        #expect(result.output.contains("600 succeeded, 0 failed, 0 errored"), "\(result.output)")
        let large = try runToCompletion(
            "/usr/bin/h2load", ["-n", "40", "-c", "1", "-m", "20", "https://localhost:\(tlsPort)/big.bin"])
        #expect(large.output.contains("40 succeeded, 0 failed"), "\(large.output)")
        #expect(
            large.output.contains("12.00MB (12000000) data") || large.output.contains("(12000000) data"),
            "\(large.output)")
    }

    @Test func plainListenerRedirectsKnownHostsToHTTPS() throws {
        let response = try fetch(plainPort, "GET /a/b?x=1 HTTP/1.1\r\nHost: www.example.test:\(plainPort)\r\n\r\n")
        #expect(response.status == 308)
        #expect(response.header("Location") == "https://www.example.test:\(tlsPort)/a/b?x=1")
        #expect(response.header("Strict-Transport-Security") == nil)
        let foreign = try fetch(plainPort, "GET / HTTP/1.1\r\nHost: evil.example.com\r\n\r\n")
        #expect(foreign.status == 400)
        #expect(edge.waitForLog(containing: "https redirect refused") != nil)
    }

    @Test func stalledOrGarbageHandshakesAreClosedAndServingGoesOn() throws {
        let silent = try RawConnection(port: tlsPort)
        #expect(silent.waitForClose())  // timeouts.header is 1s
        let plainText = try RawConnection(port: tlsPort)
        try plainText.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(plainText.waitForClose())
        let after = try curl(["https://localhost:\(tlsPort)/a.txt"])
        #expect(after.output == "alpha\n")
    }

    @Test func accessLogNamesHTTP2AndTheScheme() throws {
        _ = try curl(["--http2", "https://localhost:\(tlsPort)/a.txt"])
        _ = try curl(["--http1.1", "https://localhost:\(tlsPort)/a.txt"])
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.contains { $0.contains("\"GET /a.txt HTTP/2.0\" 200 6") && $0.hasSuffix(" scheme=https") })
        #expect(lines.contains { $0.contains("\"GET /a.txt HTTP/1.1\" 200 6") && $0.hasSuffix(" scheme=https") })
    }
}

/// HUP swaps certificates for new connections while an open one carries on; a broken file keeps the old ones.
@Suite struct CertificateReloadTests {
    @Test func hupReloadsCertificatesAndKeepsOpenConnections() throws {
        let directory = TestDirectory()
        let certificates = try TestCertificates(in: directory)
        directory.write("site/a.txt", "alpha\n")
        let edge = try EdgeProcess(
            directory: directory,
            listen: certificates.tlsListener,
            config: "routes:\n  - {prefix: /, dir: site}\n")
        let port = edge.port

        // One connection opened before the reload.
        let clientOutput = LineCollector()
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        client.arguments = [
            "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost", "-quiet", "-ign_eof",
        ]
        let input = Pipe()
        let output = Pipe()
        client.standardInput = input
        client.standardOutput = output
        client.standardError = FileHandle.nullDevice
        clientOutput.read(from: output.fileHandleForReading)
        try client.run()
        defer { client.terminate() }
        input.fileHandleForWriting.write(Data("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        #expect(clientOutput.waitFor(containing: "alpha", timeout: 10) != nil)

        try TestCertificates.make(
            cert: certificates.rsaCert, key: certificates.rsaKey, keyOptions: ["-newkey", "rsa:2048"],
            name: "renewed.localhost",
            alternatives: "DNS:localhost,DNS:*.example.test")
        edge.signal(SIGHUP)
        #expect(edge.waitForLog(containing: "configuration reloaded") != nil)
        #expect(try opensslClient(port, ["-servername", "localhost"]).output.contains("CN = renewed.localhost"))

        // The old connection still works on its old session.
        input.fileHandleForWriting.write(Data("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        #expect(clientOutput.waitFor(count: 2, containing: "alpha", timeout: 10))

        // A broken certificate file: the reload is refused and the running certificates stay.
        directory.write("rsa-cert.pem", "not a certificate")
        edge.signal(SIGHUP)
        let refusal = edge.waitForLog(containing: "configuration refused")
        #expect(refusal?.contains("rsa-cert.pem") == true, "\(edge.errorLog)")
        #expect(try opensslClient(port, ["-servername", "localhost"]).output.contains("CN = renewed.localhost"))
    }
}

/// A certificate issued by an intermediate: the PEM file's whole chain goes to the client.
@Suite struct CertificateChainTests {
    @Test func theIntermediateIsSentAfterTheLeaf() throws {
        let directory = TestDirectory()
        let dir = directory.path
        func openssl(_ arguments: String) throws {
            let result = try runToCompletion("/bin/sh", ["-c", "cd \(dir) && openssl \(arguments) 2>&1"])
            guard result.status == 0 else { throw TestFailure("openssl \(arguments): \(result.output)") }
        }
        directory.write("ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        directory.write("leaf.ext", "subjectAltName=DNS:localhost\n")
        try openssl(
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -days 30 -subj /CN=Test-Root"
        )
        try openssl(
            "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key -out inter.csr -subj /CN=Test-Intermediate"
        )
        try openssl(
            "x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -out inter.pem -days 30 -extfile ca.ext"
        )
        try openssl("req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=localhost")
        try openssl(
            "x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -CAcreateserial -out leaf.pem -days 30 -extfile leaf.ext"
        )
        let chain =
            (try String(contentsOfFile: dir + "/leaf.pem", encoding: .utf8))
            + (try String(contentsOfFile: dir + "/inter.pem", encoding: .utf8))
        directory.write("fullchain.pem", chain)
        chmod(dir + "/leaf.key", 0o600)
        directory.write("site/a.txt", "alpha\n")
        let edge = try EdgeProcess(
            directory: directory,
            listen: """
                  - address: 127.0.0.1:0
                    tls:
                      certificates:
                        - {cert: \(dir)/fullchain.pem, key: \(dir)/leaf.key}
                """,
            config: "routes:\n  - {prefix: /, dir: site}\n")
        let result = try opensslClient(
            edge.port, ["-servername", "localhost", "-showcerts", "-CAfile", dir + "/root.pem"])
        #expect(result.output.components(separatedBy: "BEGIN CERTIFICATE").count - 1 == 2, "\(result.output)")
        #expect(result.output.contains("Verify return code: 0 (ok)"), "\(result.output)")
        // curl trusting only the root verifies the whole chain, with no -k.
        let verified = try runToCompletion(
            "/usr/bin/curl", ["-s", "--cacert", dir + "/root.pem", "https://localhost:\(edge.port)/a.txt"])
        #expect(verified.output == "alpha\n")
    }
}

/// A graceful stop does not wait on connections that have not finished their handshake.
@Suite struct TLSShutdownTests {
    @Test func termDoesNotWaitForHalfOpenHandshakes() throws {
        let directory = TestDirectory()
        let certificates = try TestCertificates(in: directory)
        directory.write("site/a.txt", "alpha\n")
        let edge = try EdgeProcess(
            directory: directory,
            listen: certificates.tlsListener,
            config: "routes:\n  - {prefix: /, dir: site}\ntimeouts: {header: 60s, shutdown: 60s}\n")
        let halfOpen = try RawConnection(port: edge.port)
        try halfOpen.send("\u{16}\u{03}\u{01}")  // the first bytes of a TLS record, then nothing
        edge.signal(SIGTERM)
        // Both timeouts are a minute: exiting well before means the connection was closed, not waited out.
        #expect(edge.waitForExit(timeout: 20) == 0, "\(edge.errorLog)")
        #expect(halfOpen.waitForClose())
    }
}

/// `edge --check` on certificate/key pairs.
@Suite struct CertificateCheckTests {
    func check(_ listenTLS: String, in directory: TestDirectory) throws -> (status: Int32, output: String) {
        directory.makeDirectory("site")
        let config = directory.write(
            "edge.yaml",
            """
            listen:
              - address: 127.0.0.1:0
                tls:
                  certificates:
            \(listenTLS)
            routes:
              - {prefix: /, dir: site}
            """)
        return try runToCompletion(EdgeProcess.binary, ["--config", config, "--check"])
    }

    @Test func aKeyThatDoesNotMatchItsCertificateFails() throws {
        let directory = TestDirectory()
        let certificates = try TestCertificates(in: directory)
        let result = try check(
            "        - {cert: \(certificates.rsaCert), key: \(certificates.ecdsaKey)}", in: directory)
        #expect(result.status != 0)
        #expect(result.output.contains("does not belong to certificate"), "\(result.output)")
    }

    @Test func soonExpiringCertificatesAndOpenKeysAreWarnedAbout() throws {
        let directory = TestDirectory()
        let cert = directory.path + "/soon.pem"
        let key = directory.path + "/soon-key.pem"
        try TestCertificates.make(
            cert: cert, key: key, keyOptions: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            name: "soon.test", alternatives: "DNS:soon.test", days: 5)
        chmod(key, 0o644)
        let result = try check("        - {cert: \(cert), key: \(key)}", in: directory)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("warning") && result.output.contains("in less than 14 days"), "\(result.output)")
        #expect(result.output.contains("readable by every user"), "\(result.output)")
    }

    @Test func missingFilesAreNamed() throws {
        let directory = TestDirectory()
        let result = try check(
            "        - {cert: \(directory.path)/nope.pem, key: \(directory.path)/nope-key.pem}", in: directory)
        #expect(result.status != 0)
        #expect(result.output.contains("nope.pem"), "\(result.output)")
    }
}

/// Closing a TLS connection, Edge sends its close_notify and closes the socket soon after, without waiting for the
/// client's (nginx does not wait at all). swift-nio-ssl's default wait is 5 s, and it kept every closed
/// connection's handler, 32 KiB read buffer included, for that long: at a thousand new connections a second, Edge's
/// RSS grew past 180 MB, against 34 MB now.
@Suite struct TLSCloseTests {
    @Test func aClientThatDoesNotAnswerTheCloseNotifyIsNotWaitedFor() throws {
        let directory = TestDirectory()
        let certificates = try TestCertificates(in: directory)
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(
            directory: directory, listen: certificates.tlsListener, config: "routes: [{prefix: /, dir: site}]")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Support/close_notify.py")
        let result = try runToCompletion("/usr/bin/env", ["python3", script.path, String(edge.port), "/a.txt"])
        struct Report: Decodable {
            let status: Int
            let fin_after_close_notify: Double
            let eof: Bool
        }
        let line = try #require(result.output.split(separator: "\n").last, "no report: \(result.output)")
        let report = try JSONDecoder().decode(Report.self, from: Data(line.utf8))
        #expect(report.status == 200 && report.eof, "\(line)")
        // The wait is 100 ms; swift-nio-ssl's default, 5 s, is what this tells apart.
        #expect(report.fin_after_close_notify < 2, "\(line)")
    }
}
