import Foundation
import TestSupport
import Testing

/// The real `edge` binary serving a temp directory: headers, types, conditional requests, ranges, directories.
@Suite struct StaticFileTests {
    let edge: EdgeProcess

    init() throws {
        let directory = TestDirectory()
        directory.write("site/index.html", "<h1>home</h1>")
        directory.write("site/app.css", "body{}")
        directory.write("site/img/logo.png", Data([0x89, 0x50, 0x4E, 0x47]))
        directory.write("site/blob", "no extension")
        directory.write("site/docs/index.html", "<p>docs</p>")
        directory.write("site/my photo café.jpg", "jpeg")
        directory.makeDirectory("site/empty")
        directory.write("site/alphabet.txt", "abcdefghijklmnopqrstuvwxyz")
        edge = try EdgeProcess(
            directory: directory,
            config: """
                routes:
                  - prefix: /
                    dir: site
                    cache_control: "public, max-age=60"
                """)
    }

    @Test func servesFilesWithAllHeaders() throws {
        let response = try get(edge.port, "/app.css")
        #expect(response.status == 200)
        #expect(response.bodyText == "body{}")
        #expect(response.header("Content-Type") == "text/css; charset=utf-8")
        #expect(response.header("Content-Length") == "6")
        #expect(response.header("Accept-Ranges") == "bytes")
        #expect(response.header("Server") == "edge")
        #expect(response.header("Cache-Control") == "public, max-age=60")
        #expect(response.header("ETag")?.hasPrefix("\"") == true)
        #expect(response.header("Last-Modified")?.hasSuffix(" GMT") == true)
        #expect(response.header("Date")?.hasSuffix(" GMT") == true)
        #expect(try get(edge.port, "/img/logo.png").header("Content-Type") == "image/png")
        #expect(try get(edge.port, "/blob").header("Content-Type") == "application/octet-stream")
    }

    @Test func theConnectionHeaderSaysWhatHappensToTheConnection() throws {
        // The same small file three ways: HTTP/1.1 keep-alive (no header), HTTP/1.0 keep-alive, and a close. Both
        // a compressible type (its head gets `Vary` per request) and one that is not (sent ready-made).
        for path in ["/app.css", "/img/logo.png"] { try checkConnectionHeaders(path) }
    }

    private func checkConnectionHeaders(_ path: String) throws {
        let expectedBody = try get(edge.port, path).body
        let connection = try edge.connect()
        try connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        let kept = try connection.readResponse()
        #expect(kept.header("Connection") == nil)
        try connection.send("GET \(path) HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let http10 = try connection.readResponse()
        #expect(http10.header("Connection") == "keep-alive")
        try connection.send("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let closing = try connection.readResponse()
        #expect(closing.header("Connection") == "close")
        #expect([kept, http10, closing].allSatisfy { $0.body == expectedBody })
        #expect(connection.waitForClose())
        #expect([kept, http10, closing].allSatisfy { $0.header("Date")?.hasSuffix(" GMT") == true })
    }

    @Test func headAnswersTheSameHeadersWithoutBody() throws {
        let connection = try edge.connect()
        try connection.send("HEAD /app.css HTTP/1.1\r\nHost: x\r\n\r\nGET /app.css HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try connection.readResponse(isHead: true)
        let full = try connection.readResponse()
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(head.header("Content-Length") == "6")
        #expect(head.header("ETag") == full.header("ETag"))
        #expect(full.bodyText == "body{}")
    }

    @Test func namesWithSpacesAndUnicode() throws {
        #expect(try get(edge.port, "/my%20photo%20caf%C3%A9.jpg").bodyText == "jpeg")
    }

    @Test func conditionalRequestsAnswer304() throws {
        let first = try get(edge.port, "/app.css")
        let etag = try #require(first.header("ETag"))
        let lastModified = try #require(first.header("Last-Modified"))

        let byTag = try get(edge.port, "/app.css", "If-None-Match: \(etag)")
        #expect(byTag.status == 304)
        #expect(byTag.body.isEmpty)
        #expect(byTag.header("ETag") == etag)
        #expect(try get(edge.port, "/app.css", "If-None-Match: \"zzz\", \(etag)").status == 304)
        #expect(try get(edge.port, "/app.css", "If-None-Match: *").status == 304)
        #expect(try get(edge.port, "/app.css", "If-None-Match: \"zzz\"").status == 200)
        #expect(try get(edge.port, "/app.css", "If-Modified-Since: \(lastModified)").status == 304)
        #expect(try get(edge.port, "/app.css", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT").status == 200)
        #expect(try get(edge.port, "/app.css", "If-Match: \"zzz\"").status == 412)
    }

    @Test func singleRangesAnswer206() throws {
        let first = try get(edge.port, "/alphabet.txt", "Range: bytes=0-4")
        #expect(first.status == 206)
        #expect(first.bodyText == "abcde")
        #expect(first.header("Content-Range") == "bytes 0-4/26")
        #expect(first.header("Content-Length") == "5")
        #expect(try get(edge.port, "/alphabet.txt", "Range: bytes=-3").bodyText == "xyz")
        #expect(try get(edge.port, "/alphabet.txt", "Range: bytes=20-").bodyText == "uvwxyz")

        let unsatisfiable = try get(edge.port, "/alphabet.txt", "Range: bytes=26-")
        #expect(unsatisfiable.status == 416)
        #expect(unsatisfiable.header("Content-Range") == "bytes */26")

        let multiple = try get(edge.port, "/alphabet.txt", "Range: bytes=0-1,4-5")
        #expect(multiple.status == 200)
        #expect(multiple.body.count == 26)
    }

    @Test func ifRangeWithAStaleValidatorSendsEverything() throws {
        let etag = try #require(try get(edge.port, "/alphabet.txt").header("ETag"))
        #expect(try get(edge.port, "/alphabet.txt", "Range: bytes=0-0", "If-Range: \(etag)").status == 206)
        let stale = try get(edge.port, "/alphabet.txt", "Range: bytes=0-0", "If-Range: \"old\"")
        #expect(stale.status == 200)
        #expect(stale.body.count == 26)
    }

    @Test func directoriesServeIndexRedirectOrNotFound() throws {
        #expect(try get(edge.port, "/").bodyText == "<h1>home</h1>")
        #expect(try get(edge.port, "/docs/").bodyText == "<p>docs</p>")
        let redirect = try get(edge.port, "/docs?page=2&x=y")
        #expect(redirect.status == 301)
        #expect(redirect.header("Location") == "/docs/?page=2&x=y")
        #expect(try get(edge.port, "/empty/").status == 404)
        #expect(try get(edge.port, "/app.css/").status == 404)
    }

    @Test func otherMethodsGet405() throws {
        let response = try fetch(edge.port, "DELETE /app.css HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.status == 405)
        #expect(response.header("Allow") == "GET, HEAD")
    }

    @Test func curlSeesTheSameAsARealClient() throws {
        let output = try runCurl([
            "-s", "-D", "-", "-H", "Range: bytes=1-3", "http://127.0.0.1:\(edge.port)/alphabet.txt",
        ])
        #expect(output.contains("HTTP/1.1 206 Partial Content"))
        #expect(output.hasSuffix("\r\n\r\nbcd"))
    }
}

/// Runs curl (installed by the test command) and returns its standard output.
func runCurl(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["--max-time", "20"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
