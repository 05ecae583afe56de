import Foundation
import TestSupport
import Testing

/// `error_pages` for Edge's own answers and, with `intercept_upstream_errors`, for an upstream's errors.
@Suite struct ErrorPageTests {
    let directory = TestDirectory()
    let failing: FakeUpstream
    static let notFoundPage = "<!doctype html><title>Not here</title><p>Nothing at this address.</p>\n"
    static let errorPage = "<!doctype html><title>Sorry</title><p>Something broke on our side.</p>\n"

    init() throws {
        directory.write("site/a.txt", "alpha")
        directory.write("pages/404.html", Self.notFoundPage)
        directory.write("pages/5xx.html", Self.errorPage)
        failing = try FakeUpstream(
            directory: directory, name: "failing.sock",
            behaviour: .fixed("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"))
    }

    func edge(intercepting: Bool) throws -> EdgeProcess {
        try EdgeProcess(
            directory: directory,
            config: """
                upstreams: {failing: {servers: ["unix:failing.sock"]}, gone: {servers: ["unix:nothing-here.sock"]}}
                routes:
                  - {prefix: /app/, upstream: failing}
                  - {prefix: /down/, upstream: gone}
                  - {prefix: /, dir: site}
                error_pages: {404: pages/404.html, 500: pages/5xx.html, 502: pages/5xx.html}
                intercept_upstream_errors: \(intercepting)
                """)
    }

    @Test func edgesOwnAnswersAndUpstreamErrorsGetThePages() throws {
        let edge = try edge(intercepting: true)
        let connection = try edge.connect()
        try connection.send("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
        let missing = try connection.readResponse()
        #expect(missing.status == 404 && missing.bodyText == Self.notFoundPage)
        #expect(missing.header("Content-Type") == "text/html; charset=utf-8")
        try connection.send("HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try connection.readResponse(isHead: true)
        #expect(head.status == 404 && head.header("Content-Length") == "\(Self.notFoundPage.utf8.count)")
        // The upstream's 500 becomes the page, with its status; its own body is dropped and the connection goes on.
        try connection.send("GET /app/x HTTP/1.1\r\nHost: x\r\n\r\n")
        let upstreamError = try connection.readResponse()
        #expect(upstreamError.status == 500 && upstreamError.bodyText == Self.errorPage)
        #expect(upstreamError.header("X-Request-ID") != nil)
        try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.readResponse().bodyText == "alpha")
        // Edge's own 502 for an upstream it cannot reach.
        let unreachable = try get(edge.port, "/down/x")
        #expect(unreachable.status == 502 && unreachable.bodyText == Self.errorPage)
    }

    @Test func withoutInterceptionTheUpstreamsErrorPassesThrough() throws {
        let edge = try edge(intercepting: false)
        let upstreamError = try get(edge.port, "/app/x")
        #expect(upstreamError.status == 500 && upstreamError.bodyText == "oops")
        #expect(try get(edge.port, "/missing").bodyText == Self.notFoundPage)
    }

    @Test func aMissingPageOrANonErrorStatusIsAConfigError() throws {
        directory.write(
            "bad.yaml",
            """
            listen: [{address: "127.0.0.1:0"}]
            error_pages: {404: pages/nope.html, 200: pages/404.html}
            """)
        let check = try runToCompletion(EdgeProcess.binary, ["--check", "--config", directory.path + "/bad.yaml"])
        #expect(check.status == 1)
        #expect(check.output.contains("error_pages.404: file \(directory.path)/pages/nope.html does not exist"))
        #expect(check.output.contains("error_pages.200: '200' is not an error status (400-599)"), "\(check.output)")
    }
}
