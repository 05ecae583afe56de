import Foundation
import TestSupport
import Testing

/// Requests that try to leave the route's directory, sent byte for byte over a raw socket.
@Suite struct PathSafetyTests {
    let edge: EdgeProcess
    let outside: TestDirectory

    init() throws {
        let directory = TestDirectory()
        outside = TestDirectory()
        let secret = outside.write("secret.txt", "SECRET")
        directory.write("public/ok.txt", "ok")
        directory.write("public/.env", "SECRET")
        directory.write("public/.git/config", "SECRET")
        directory.write("private.txt", "SECRET")
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/public/escape.txt", withDestinationPath: secret)
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/public/outdir", withDestinationPath: outside.path)
        edge = try EdgeProcess(directory: directory, config: "routes: [{prefix: /static/, dir: public}]")
    }

    @Test(arguments: [
        "/static/../private.txt", "/static/%2e%2e/private.txt", "/static/%2E%2E/private.txt",
        "/static/.%2e/private.txt",
        "/static/..%2fprivate.txt", "/static/%2e%2e%2fprivate.txt", "/static/..\\private.txt",
        "/static/%5c..%5cprivate.txt",
        "/static/ok.txt%00.png", "/static//ok.txt", "/static/./ok.txt", "/static/%zz",
    ])
    func traversalIsRefusedWith400(target: String) throws {
        let response = try fetch(edge.port, "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.status == 400)
        #expect(!response.bodyText.contains("SECRET"))
    }

    @Test(arguments: ["/static/.env", "/static/.git/config", "/static/escape.txt", "/static/outdir/secret.txt"])
    func hiddenAndEscapingFilesAre404(target: String) throws {
        let response = try get(edge.port, target)
        #expect(response.status == 404)
        #expect(!response.bodyText.contains("SECRET"))
    }

    @Test func refusalsAreLogged() throws {
        _ = try get(edge.port, "/static/escape.txt")
        let line = edge.waitForLog(containing: "escape.txt")
        #expect(line?.contains("refused request") == true)
        #expect(line?.contains("outside") == true)
        _ = try fetch(edge.port, "GET /static/%2e%2e/private.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(edge.waitForLog(containing: "encoded dot") != nil)
    }

    @Test func legitimateFileStillServed() throws {
        #expect(try get(edge.port, "/static/ok.txt").bodyText == "ok")
    }
}
