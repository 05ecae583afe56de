import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real AppServer behind a TLS listener: proxying over HTTP/2 and HTTP/1.1 inside TLS behaves as over plain
/// HTTP/1.1, with `X-Forwarded-Proto: https`.
@Suite struct HTTP2ProxyTests {
    let directory = TestDirectory()
    let pair: EdgeAndAppServer
    var edge: EdgeProcess { pair.edge }
    var appLog: LineCollector { pair.appLog }

    init() throws {
        let certificates = try TestCertificates(in: directory)
        directory.write("site/page.html", Self.page)
        directory.write("site/large.html", Self.largePage)
        pair = try EdgeAndAppServer(
            in: directory, listen: certificates.tlsListener,
            config: """
                routes:
                  - {prefix: /site/, dir: site}
                  - {prefix: /, upstream: app}
                limits: {max_body_size: 1MiB}
                """)
    }

    var base: String { "https://localhost:\(edge.port)" }
    static let page =
        "<!doctype html><title>h2</title>" + String(repeating: "<p>compressible over HTTP/2</p>\n", count: 400)
    /// Over the size gzipped in one go (1 MiB): read and gzipped a chunk at a time, each piece DATA of its own.
    static let largePage = (0..<40_000).map { "<p id=\"p\($0)\">paragraph \($0 * 31 % 997)</p>\n" }.joined()

    @Test func gzipOverHTTP2ForStaticAndProxiedResponses() throws {
        // Gzipped bodies leave Edge framed as HTTP/1.1 chunks; over HTTP/2 they must arrive as plain DATA, decodable.
        let file = try curl(["--http2", "--compressed", "-D", "-", base + "/site/page.html"])
        #expect(file.output.contains("content-encoding: gzip\r\n"))
        #expect(file.output.contains("vary: Accept-Encoding\r\n"))
        #expect(file.output.hasSuffix("\r\n\r\n" + Self.page))
        let proxied = try curl([
            "--http2", "--compressed", "-D", "-", base + "/echo?padding=" + String(repeating: "x", count: 300),
        ])
        #expect(proxied.output.contains("content-encoding: gzip\r\n"))
        let json = try #require(proxied.output.components(separatedBy: "\r\n\r\n").last)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["path"] as? String == "/echo")
        for http in ["--http2", "--http1.1"] {
            let large = try curl([http, "--compressed", "-D", "-", base + "/site/large.html"])
            #expect(large.output.lowercased().contains("content-encoding: gzip\r\n"), "\(http)")
            #expect(large.output.hasSuffix("\r\n\r\n" + Self.largePage), "\(http)")
        }
        // HEAD over HTTP/2 answers the headers GET would.
        let head = try curl(["--http2", "-I", "-H", "Accept-Encoding: gzip", base + "/site/page.html"])
        #expect(head.output.contains("content-encoding: gzip\r\n"))
        #expect(!head.output.contains("content-length"))
    }

    @Test func forwardedProtoIsHTTPSOverBothProtocols() throws {
        for http in ["--http2", "--http1.1"] {
            let result = try curl([
                http, "-X", "POST", "--data-binary", "hello", "-H", "X-Forwarded-Proto: http", base + "/echo",
            ])
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.output)")
            let headers = (object["headers"] as? [[String: String]] ?? []).reduce(into: [String: [String]]()) {
                $0[$1["name"]!.lowercased(), default: []].append($1["value"]!)
            }
            #expect(headers["x-forwarded-proto"] == ["https"], "\(http)")
            #expect(
                object["body_sha256"] as? String == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        }
    }

    @Test func anHTTP2UploadWithoutLengthStreamsToTheApp() throws {
        // From a pipe curl cannot announce a length: the body arrives as DATA frames and goes upstream chunked.
        let upload = try runToCompletion(
            "/bin/sh",
            [
                "-c",
                "head -c 800000 /dev/zero | tr '\\0' 'u' | curl -sk --http2 -X POST -T - -o /dev/null -w '%{http_code}' '\(base)/upload?name=h2.bin'",
            ])
        #expect(upload.output == "201", "\(upload.output)")
        let stored = FileManager.default.contents(atPath: directory.path + "/media/h2.bin")
        #expect(stored == Data(repeating: UInt8(ascii: "u"), count: 800_000))
    }

    @Test func anHTTP2BodyOverTheLimitIsRefused() throws {
        let result = try runToCompletion(
            "/bin/sh",
            [
                "-c",
                "head -c 2000000 /dev/zero | curl -sk --http2 -H 'Content-Length: 2000000' --data-binary @- -o /dev/null -w '%{http_code}' '\(base)/upload?name=big.bin'",
            ])
        #expect(result.output == "413", "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/media/big.bin"))
    }

    @Test func concurrentProxiedStreams() throws {
        let result = try runToCompletion("/usr/bin/h2load", ["-n", "400", "-c", "2", "-m", "40", base + "/plaintext"])
        #expect(result.output.contains("400 succeeded, 0 failed, 0 errored"), "\(result.output)")
        #expect(result.output.contains("status codes: 400 2xx"), "\(result.output)")
    }
}
