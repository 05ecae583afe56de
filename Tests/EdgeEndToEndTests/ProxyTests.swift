import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Edge in front of the real AppServer over a Unix socket, as in production.
@Suite struct ProxyTests {
    let directory = TestDirectory()
    let pair: EdgeAndAppServer
    var edge: EdgeProcess { pair.edge }
    var appLog: LineCollector { pair.appLog }
    /// Sends one server-sent event, then the second and the end when the test says so.
    let events: FakeUpstream
    /// Counts the request body it is sent and never answers.
    let sink: FakeUpstream
    /// Answers with 8 MB at once: more than the sockets between it and a client that does not read can hold.
    let large: FakeUpstream
    static let largeBody = String(repeating: "0123456789abcdef", count: 512 * 1024)

    init() throws {
        directory.write("site/s.txt", "static")
        events = try FakeUpstream(directory: directory, name: "events.sock", behaviour: .eventStream)
        sink = try FakeUpstream(directory: directory, name: "sink.sock", behaviour: .swallowChunkedBody)
        large = try FakeUpstream(
            directory: directory, name: "large.sock",
            behaviour: .fixed(
                "HTTP/1.1 200 OK\r\nContent-Length: \(Self.largeBody.utf8.count)\r\n\r\n" + Self.largeBody))
        pair = try EdgeAndAppServer(
            in: directory, appExtra: "log_level: debug\n",
            upstreams: """
                  gone: {servers: ["unix:nothing-here.sock"]}
                  mixed: {servers: ["unix:nothing-here.sock", "unix:app.sock"]}
                  events: {servers: ["unix:events.sock"]}
                  sink: {servers: ["unix:sink.sock"]}
                  large: {servers: ["unix:large.sock"]}
                """,
            config: """
                routes:
                  - {prefix: /static/, dir: site}
                  - {prefix: /down/, upstream: gone}
                  - {prefix: /mixed/, upstream: mixed}
                  - {prefix: /events/, upstream: events}
                  - {prefix: /sink/, upstream: sink}
                  - {prefix: /large/, upstream: large}
                  - {prefix: /, upstream: app}
                limits: {max_body_size: 1MiB}
                timeouts: {upstream_response: 1s, body: 1s}
                """)
    }

    @Test func proxiesToAppServerAndServesStaticBesideIt() throws {
        let plain = try get(edge.port, "/plaintext")
        #expect(plain.status == 200)
        #expect(plain.bodyText == "Hello, World!")
        #expect(plain.header("Server") == "edge")
        #expect(plain.header("X-Request-ID")?.count == 32)
        #expect(try get(edge.port, "/static/s.txt").bodyText == "static")
    }

    @Test func absoluteFormRequestsAreRoutedByTheirPathAndHost() throws {
        // RFC 9112 §3.2.2: a server must accept `GET http://host/path`, and the target's host wins over `Host`.
        let proxied = try fetch(edge.port, "GET http://app.example/echo?x=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(proxied.body)) as? [String: Any])
        #expect(object["path"] as? String == "/echo")
        #expect(object["query"] as? String == "x=1")
        #expect(object["authority"] as? String == "app.example")
        #expect(
            try fetch(edge.port, "GET http://app.example/static/s.txt HTTP/1.1\r\nHost: other\r\n\r\n").bodyText
                == "static")
        #expect(try fetch(edge.port, "GET http://u@app.example/ HTTP/1.1\r\nHost: other\r\n\r\n").status == 400)
    }

    @Test func forwardedHeadersAreEdgesNotTheClients() throws {
        let response = try fetch(
            edge.port,
            "POST /echo HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nCF-Connecting-IP: 6.6.6.6\r\nX-Request-ID: forged\r\nConnection: keep-alive, X-Secret\r\nX-Secret: hop\r\nContent-Length: 5\r\n\r\nhello"
        )
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let headers = (object["headers"] as? [[String: String]] ?? []).reduce(into: [String: [String]]()) {
            $0[$1["name"]!.lowercased(), default: []].append($1["value"]!)
        }
        // The client's claim is dropped: 127.0.0.1 is not in real_ip.trusted.
        #expect(headers["x-forwarded-for"] == ["127.0.0.1"])
        #expect(headers["x-real-ip"] == ["127.0.0.1"])
        #expect(headers["cf-connecting-ip"] == nil)  // a forgery when it does not come from the CDN
        #expect(headers["x-forwarded-host"] == ["example.test"])
        #expect(headers["x-forwarded-proto"] == ["http"])
        #expect(headers["x-request-id"]?.first != "forged")
        #expect(headers["x-request-id"]?.first == response.header("X-Request-ID"))
        #expect(headers["x-secret"] == nil)  // named in Connection: hop-by-hop
        #expect(headers["connection"] == nil)
        #expect(headers["content-length"] == ["5"])
        #expect(object["authority"] as? String == "example.test")
        #expect(object["body_sha256"] as? String == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(object["client_address"] as? String == "127.0.0.1")
    }

    @Test func uploadsStreamThroughToTheMediaDirectory() throws {
        let payload = String(repeating: "abcdefgh", count: 100_000)  // 800 KB, chunked by the client
        let connection = try edge.connect()
        var request = "POST /upload?name=through-edge.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for chunk in stride(from: 0, to: payload.utf8.count, by: 65536) {
            let piece = payload.utf8.dropFirst(chunk).prefix(65536)
            request += String(piece.count, radix: 16) + "\r\n" + String(decoding: piece, as: UTF8.self) + "\r\n"
        }
        try connection.send(request + "0\r\n\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 201)
        #expect(try String(contentsOfFile: directory.path + "/media/through-edge.bin", encoding: .utf8) == payload)
    }

    @Test func theHomePageFormUploadsThroughEdge() throws {
        // What a browser does with the reference app's page: read the form, then post the chosen file with it.
        let page = try edge.connect()
        try page.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let html = try page.readResponse().bodyText
        #expect(html.contains(#"<form method="post" action="/upload" enctype="multipart/form-data">"#))
        #expect(html.contains(#"<input type="file" name="file""#))

        let contents = Array(String(repeating: "edge\r\n--", count: 50_000).utf8)
        var form = MultipartForm()
        form.addFile("file", filename: "notes.txt", contents: contents, type: "text/plain")
        let connection = try edge.connect()
        try connection.send(form.request(to: "/upload"))
        let stored = try connection.readResponse()
        #expect(stored.status == 303 && stored.header("Location") == "/")
        #expect(FileManager.default.contents(atPath: directory.path + "/media/notes.txt") == Data(contents))
        // Back on the page, the file is listed.
        try page.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try page.readResponse().bodyText.contains(#"<a href="/media/notes.txt">notes.txt</a>"#))
    }

    @Test func bodiesOverTheLimitGet413BeforeAnythingIsSent() throws {
        let connection = try edge.connect()
        try connection.send(
            "POST /upload?name=big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n"
                + "User-Agent: uploader/1\r\n\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 413)
        #expect(connection.waitForClose())
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/media/big.bin"))

        let chunked = try edge.connect()
        try chunked.send(
            "POST /upload?name=grown.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                + "User-Agent: streamer/2\r\n\r\n")
        let piece = String(repeating: "z", count: 300_000)
        for _ in 0..<4 { try? chunked.send(String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n") }
        #expect(try chunked.readResponse().status == 413)
        // The app saw a body cut short: no file, and no temporary file left behind.
        let media = directory.path + "/media"
        #expect(
            eventually(within: 10) { ((try? FileManager.default.contentsOfDirectory(atPath: media)) ?? []).isEmpty })

        // Each refusal is one info line (the client's doing, not an upstream failure) and an access-log line that
        // names the client's user agent.
        let grown = try #require(edge.waitForLog(containing: "grew past max_body_size"))
        #expect(grown.contains(" info ") && grown.contains("status=413"), "\(grown)")
        #expect(!edge.errorLog.contains("proxy failed"), "\(edge.errorLog)")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.contains { $0.contains("big.bin HTTP/1.1\" 413 ") && $0.contains("\"uploader/1\"") }, "\(lines)")
        #expect(
            lines.contains { $0.contains("grown.bin HTTP/1.1\" 413 ") && $0.contains("\"streamer/2\"") }, "\(lines)")
    }

    @Test func aChunkedBodyThatOutgrowsTheLimitIsCutAtTheLimit() throws {
        let connection = try edge.connect()
        try connection.send("POST /sink/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        let piece = String(repeating: "z", count: 300_000)
        for _ in 0..<4 { try? connection.send(String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n") }
        #expect(try connection.readResponse().status == 413)
        #expect(sink.waitForClosed(1))
        #expect(sink.bodyBytes > 0, "the body streamed up until it outgrew the limit")
        #expect(sink.bodyBytes <= 1_048_576)
    }

    @Test func aClientStillSendingItsBodySeesThe413() throws {
        let connection = try edge.connect()
        try connection.send("POST /upload?name=huge.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")
        // Keep sending, as a client that did not ask for 100-continue does, while the refusal comes back.
        let sender = Thread {
            let chunk = [UInt8](repeating: 0x61, count: 65536)
            for _ in 0..<100 { if (try? connection.send(chunk)) == nil { return } }
        }
        sender.start()
        #expect(try connection.readResponse().status == 413)
    }

    @Test func aStalledRequestBodyIsCutAtTheBodyTimeout() throws {
        let connection = try edge.connect()
        try connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        #expect(connection.waitForClose())
        #expect(connection.unreadText.hasPrefix("HTTP/1.1 408 Request Timeout"))
        // One access-log line, with the upstream's fields (the abandoned exchange is not logged again as 499), and
        // an error-log line that names the body, not the head.
        let lines = try edge.stopAndReadAccessLog()
        #expect(
            lines.count == 1 && lines[0].contains("\"POST /echo HTTP/1.1\" 408 ")
                && lines[0].contains("upstream=unix:"), "\(lines)")
        #expect(edge.waitForLog(containing: "cause=\"request body not received in time\"") != nil, "\(edge.errorLog)")
    }

    @Test func aStalledBodyToAStaticRouteIsCutAtTheBodyTimeout() throws {
        let connection = try edge.connect()
        try connection.send("GET /static/s.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        #expect(connection.waitForClose())
        #expect(connection.unreadText.hasPrefix("HTTP/1.1 408 Request Timeout"))
        #expect(edge.waitForLog(containing: "request body not received in time") != nil, "\(edge.errorLog)")
    }

    @Test func expectContinueIsAnswered() throws {
        let connection = try edge.connect()
        try connection.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        let interim = try connection.readResponse()
        #expect(interim.status == 100)
        try connection.send("abc")
        #expect(try connection.readResponse().status == 200)
    }

    @Test func aServerThatRefusesIsSkippedAndLogged() throws {
        for _ in 0..<10 {
            // Every request succeeds: a refused connect is retried on the other server (nothing was sent).
            #expect(try get(edge.port, "/mixed/healthz").status == 404)  // the app's 404: it was reached
        }
        #expect(edge.waitForLog(containing: "cannot connect to upstream server") != nil)
        // Health is tracked per event loop (no cross-thread state on the request path): one line per loop at most.
        let lines = edge.errorLog.components(separatedBy: "cannot connect to upstream server").count - 1
        #expect((1...ProcessInfo.processInfo.activeProcessorCount).contains(lines))
    }

    @Test func unreachableUpstreamIs502AndSlowIs504() throws {
        let down = try get(edge.port, "/down/anything")
        #expect(down.status == 502)
        #expect(edge.waitForLog(containing: "proxy failed")?.contains("nothing-here.sock") == true)
        let slow = try get(edge.port, "/__test/sleep?ms=3000")
        #expect(slow.status == 504)
        #expect(try get(edge.port, "/plaintext").status == 200)
    }

    @Test func accessLogNamesTheUpstream() throws {
        let response = try get(edge.port, "/json", "User-Agent: logger-test/1")
        let id = try #require(response.header("X-Request-ID"))
        _ = try get(edge.port, "/down/x")
        let smuggling = try fetch(
            edge.port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(smuggling.status == 400)
        let lines = try edge.stopAndReadAccessLog()
        // A head refused for its fields is logged with its request line, as nginx does, not as "- - -".
        #expect(lines.contains { $0.contains("\"POST /echo HTTP/1.1\" 400 ") }, "\(lines)")
        let proxied = try #require(lines.first { $0.contains("GET /json") })
        #expect(proxied.contains("\"logger-test/1\""))
        #expect(proxied.contains(" upstream=unix:\(directory.path)/app.sock upstream_status=200 upstream_time="))
        #expect(proxied.hasSuffix(" request_id=\(id)"))
        let failed = try #require(lines.first { $0.contains("GET /down/x") })
        #expect(failed.contains("\" 502 "))
        #expect(failed.contains("upstream=unix:\(directory.path)/nothing-here.sock upstream_status=0"))
    }

    @Test func aClientThatLeavesAbortsItsUpstreamRequest() throws {
        let connection = try edge.connect()
        try connection.send("GET /__test/sleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(appLog.waitFor(containing: #"path="/__test/sleep"#, timeout: 10) != nil)
        connection.close()
        // Edge closes the upstream connection rather than keeping it for a response nobody will read: the app's
        // write then finds its client gone.
        #expect(appLog.waitFor(containing: "client went away before the response was complete", timeout: 10) != nil)
        #expect(try get(edge.port, "/plaintext").status == 200)
        // Logged as nginx logs it: 499, "client closed request", with the upstream it was going to.
        let line = try #require(try edge.stopAndReadAccessLog().first { $0.contains("GET /__test/sleep") })
        #expect(line.contains("\" 499 0 "))
        #expect(line.contains(" upstream=unix:\(directory.path)/app.sock upstream_status=0 "))
    }

    @Test func streamedResponsesArriveAsTheyAreProduced() throws {
        let connection = try edge.connect()
        try connection.send("GET /events/ HTTP/1.1\r\nHost: x\r\n\r\n")
        // The upstream holds the second event until the first has reached the client: an Edge that buffered the
        // response would leave this read waiting until it gave up.
        let first = try connection.readText(until: "data: 0")
        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"))
        events.release()
        let rest = try connection.readText(until: "\r\n0\r\n\r\n", atEnd: true)
        #expect(rest == "9\r\ndata: 1\n\n\r\n0\r\n\r\n")
    }

    @Test func aResponseThatStallsMidBodyIsCutAfterUpstreamResponse() throws {
        let connection = try edge.connect()
        try connection.send("GET /events/ HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try connection.readText(until: "data: 0")
        // The upstream now says nothing until released. After `upstream_response` (1 s here) of silence Edge closes
        // the client connection, so the response can never look whole; the connection's own timeouts (75 s
        // keep-alive, 60 s send) would come far later.
        #expect(connection.waitForClose())
        #expect(!connection.unreadText.contains("0\r\n\r\n"))
        #expect(edge.waitForLog(containing: "the response stalled mid-body for timeouts.upstream_response") != nil)
        events.release()
        #expect(try get(edge.port, "/plaintext").status == 200)
        // The access log has the request: the status the client saw, and the time until Edge gave up on the upstream.
        let line = try #require(try edge.stopAndReadAccessLog().first { $0.contains("GET /events/") })
        #expect(line.contains("\" 200 "))
        let upstreamTime = line.components(separatedBy: " upstream_time=").last?.split(separator: " ").first
        #expect(upstreamTime.flatMap { Double($0) }.map { $0 >= 1 } == true, "\(line)")
    }

    @Test func theStallLimitIsPerGapNotForTheWholeResponse() throws {
        // Eight events a quarter of a second apart: two seconds in all, twice `upstream_response`, with every gap
        // well inside it. The whole stream must arrive.
        let connection = try edge.connect()
        try connection.send("GET /__test/stream?n=8&ms=250 HTTP/1.1\r\nHost: x\r\n\r\n")
        let stream = try connection.readText(until: "\r\n0\r\n\r\n", atEnd: true)
        #expect(stream.contains("data: 7"))
    }

    @Test func aClientThatPausesReadingIsNotMistakenForAStalledUpstream() throws {
        let connection = try RawConnection(port: edge.port, receiveBuffer: 64 * 1024)
        try connection.send("GET /large/ HTTP/1.1\r\nHost: x\r\n\r\n")
        // The client reads nothing for longer than `upstream_response`, so the buffers fill and Edge stops reading from
        // the upstream: that silence is Edge's doing. (The pause is the slow client's behaviour under test, not a
        // wait for the server.)
        usleep(1_500_000)
        let response = try connection.readResponse()  // throws if the body was cut short
        #expect(response.body.count == Self.largeBody.utf8.count)
        #expect(!edge.errorLog.contains("stalled mid-body"))
    }

    @Test func keepAliveAndPipeliningThroughTheProxy() throws {
        let connection = try edge.connect()
        try connection.send(
            String(repeating: "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", count: 5)
                + "GET /static/s.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in 0..<5 { #expect(try connection.readResponse().bodyText == "Hello, World!") }
        #expect(try connection.readResponse().bodyText == "static")
        for _ in 0..<20 {
            try connection.send("GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().status == 200)
        }
    }
}
