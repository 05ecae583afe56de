import Foundation
import TestSupport
import Testing

/// The reference app's routes through real worker processes.
@Suite struct ServingTests {
    let server: AppServerProcess

    init() throws {
        server = try AppServerProcess(
            config: "forwarded_allow: [\"10.0.0.0/8\"]\napp: {test_routes: true, media_dir: media}")
    }

    @Test func techEmpowerRoutes() throws {
        let plain = try server.request("GET", "/plaintext")
        #expect(plain.status == 200)
        #expect(plain.bodyText == "Hello, World!")
        #expect(plain.header("Content-Type") == "text/plain")
        #expect(plain.header("Server") == "appserver")
        #expect(plain.header("Date")?.hasSuffix("GMT") == true)
        let json = try server.request("GET", "/json")
        #expect(json.bodyText == #"{"message":"Hello, World!"}"#)
        #expect(json.header("Content-Type") == "application/json")
        #expect(try server.request("GET", "/healthz").status == 200)
        #expect(try server.request("GET", "/nope").status == 404)
    }

    @Test func headIsAnsweredAsGetAndAWrongMethodGets405() throws {
        let connection = try server.connect()
        try connection.send("HEAD /plaintext HTTP/1.1\r\nHost: app\r\n\r\n")
        let head = try connection.readResponse(isHead: true)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "13")
        #expect(head.body.isEmpty)
        // Nothing of a body followed: the next response on the connection is read cleanly.
        try connection.send("GET /upload HTTP/1.1\r\nHost: app\r\n\r\n")
        let wrongMethod = try connection.readResponse()
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.header("Allow") == "POST")
        let deleteHome = try server.request("DELETE", "/")
        #expect(deleteHome.status == 405)
        #expect(deleteHome.header("Allow") == "GET, HEAD")
    }

    @Test func echoReportsWhatTheAppSaw() throws {
        let response = try server.request("POST", "/echo?x=1&y=2", headers: ["X-Custom: yes"], body: "hello")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(object["method"] as? String == "POST")
        #expect(object["path"] as? String == "/echo")
        #expect(object["query"] as? String == "x=1&y=2")
        #expect(object["body_length"] as? Int == 5)
        #expect(object["body_sha256"] as? String == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(object["scheme"] as? String == "http")
        let headers = object["headers"] as? [[String: String]] ?? []
        #expect(headers.contains { $0["name"] == "X-Custom" && $0["value"] == "yes" })
    }

    /// A worker gives the app its event loops at boot (`AppSettings.eventLoopGroup`), and they are the loops its
    /// requests are handled on: a database client started on them answers without a hop between threads.
    @Test func theAppGetsTheLoopsThatServeIt() throws {
        for _ in 0..<4 {
            #expect(try server.request("GET", "/__test/loop").bodyText == "worker loop")
        }
    }

    @Test func streamedResponsesLeaveAsTheyAreWritten() throws {
        // The second event comes a minute after the first. The first must be readable at once: a worker that held
        // the response back would fail this read at the connection's receive timeout, not by a stopwatch.
        let connection = try server.connect()
        try connection.send("GET /__test/stream?n=2&ms=60000 HTTP/1.1\r\nHost: app\r\n\r\n")
        let first = try connection.readText(until: "data: 0")
        #expect(first.contains("Content-Type: text/event-stream"))
        #expect(first.contains("Transfer-Encoding: chunked"))
    }

    @Test func anAbsoluteFormTargetReachesTheAppAsPathAndAuthority() throws {
        let connection = try server.connect()
        try connection.send("GET http://app.example/echo?x=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        let object = try JSONSerialization.jsonObject(with: Data(try connection.readResponse().body)) as? [String: Any]
        #expect(object?["path"] as? String == "/echo")
        #expect(object?["query"] as? String == "x=1")
        #expect(object?["authority"] as? String == "app.example")
    }

    @Test func chunkedRequestBodiesStream() throws {
        let connection = try server.connect()
        try connection.send(
            "POST /echo HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n")
        let object = try JSONSerialization.jsonObject(with: Data(try connection.readResponse().body)) as? [String: Any]
        #expect(object?["body_length"] as? Int == 5)
    }

    @Test func uploadsAppearWholeOrNotAtAll() throws {
        let payload = String(repeating: "0123456789", count: 50_000)
        let response = try server.request("POST", "/upload?name=data.bin", body: payload)
        #expect(response.status == 201)
        let stored = try String(contentsOfFile: server.directory.path + "/media/data.bin", encoding: .utf8)
        #expect(stored == payload)

        // A client that promises 1 MB, sends 1 KB and disconnects leaves nothing behind.
        let cut = try server.connect()
        try cut.send(
            "POST /upload?name=cut.bin HTTP/1.1\r\nHost: app\r\nContent-Length: 1000000\r\n\r\n"
                + String(repeating: "x", count: 1000))
        let media = server.directory.path + "/media"
        // Disconnect only once the app has started writing the temporary file.
        try eventually(within: 10) {
            try FileManager.default.contentsOfDirectory(atPath: media).contains { $0.hasPrefix(".upload-") }
        }
        cut.close()
        var leftovers: [String] = []
        try eventually(within: 10) {
            leftovers = try FileManager.default.contentsOfDirectory(atPath: media).filter { $0 != "data.bin" }
            return leftovers.isEmpty
        }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)")
    }

    @Test func formUploadsStoreTheChosenFileUnderItsOwnName() throws {
        // Binary contents with line ends and dashes, as a photo has.
        let photo = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) } + Array("\r\n--".utf8)
        var form = MultipartForm()
        form.addField("title", "Holiday")
        form.addFile("file", filename: "beach photo (1).jpg", contents: photo, type: "image/jpeg")
        form.addFile("second", filename: "", contents: [])
        // An API client gets the file's JSON and where it is.
        let connection = try server.connect()
        try connection.send(form.request(to: "/upload", accept: "application/json"))
        let response = try connection.readResponse()
        #expect(response.status == 201)
        #expect(response.header("Location") == "/media/beach_photo__1_.jpg")
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        #expect(object?["name"] as? String == "beach_photo__1_.jpg")
        #expect(object?["size"] as? Int == photo.count)
        #expect(object?["content_type"] as? String == "image/jpeg")
        #expect(
            FileManager.default.contents(atPath: server.directory.path + "/media/beach_photo__1_.jpg") == Data(photo))

        // A browser is sent back to the home page, which lists the file from the database; `?name=` still decides
        // the name.
        try connection.send(form.request(to: "/upload?name=chosen.jpg"))
        let browser = try connection.readResponse()
        #expect(browser.status == 303 && browser.header("Location") == "/")
        #expect(FileManager.default.contents(atPath: server.directory.path + "/media/chosen.jpg") == Data(photo))
        let home = try server.request("GET", "/").bodyText
        #expect(
            home.contains(
                #"<a href="/media/chosen.jpg">chosen.jpg</a></td><td>\#(photo.count)</td><td>image/jpeg</td>"#))
        #expect(home.contains("beach_photo__1_.jpg"))
        #expect(home.range(of: "chosen.jpg")!.lowerBound < home.range(of: "beach_photo__1_.jpg")!.lowerBound)
    }

    @Test func brokenFormsGet400NamingTheProblemAndLeaveNothing() throws {
        let connection = try server.connect()
        var empty = MultipartForm()
        empty.addField("title", "no file chosen")
        empty.addFile("file", filename: "", contents: [])
        try connection.send(empty.request(to: "/upload"))
        let noFile = try connection.readResponse()
        #expect(noFile.status == 400)
        #expect(noFile.bodyText.contains("the form has no file"))

        // Cut before its closing boundary, with a whole Content-Length: the body is complete, the form is not.
        var cut = MultipartForm()
        cut.addFile("file", filename: "a.bin", contents: Array(repeating: 0x61, count: 10_000))
        let head =
            "POST /upload HTTP/1.1\r\nHost: app\r\nContent-Type: multipart/form-data; boundary=\(cut.boundary)\r\n"
        try connection.send(Array((head + "Content-Length: \(cut.body.count)\r\n\r\n").utf8) + cut.body)
        let truncated = try connection.readResponse()
        #expect(truncated.status == 400)
        #expect(truncated.bodyText.contains("ends before its closing boundary"))

        try connection.send(
            "POST /upload HTTP/1.1\r\nHost: app\r\nContent-Type: multipart/form-data\r\nContent-Length: 0\r\n\r\n")
        #expect(try connection.readResponse().bodyText.contains("needs a boundary"))

        // The same connection still serves, the log names each refusal, and no file or temporary file is left.
        try connection.send("GET /healthz HTTP/1.1\r\nHost: app\r\n\r\n")
        #expect(try connection.readResponse().status == 200)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.directory.path + "/media").isEmpty)
        let refusals = {
            server.log.lines.filter {
                $0.contains("request refused") && $0.contains("status=400") && $0.contains("path=/upload")
            }
        }
        #expect(eventually(within: 10) { refusals().count == 3 }, "\(server.log.lines)")
    }

    @Test func malformedRequestsGet400AndLimits431() throws {
        let connection = try server.connect()
        try connection.send("GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        #expect(try connection.readResponse().status == 400)
        let many = (0..<150).map { "X-H\($0): v" }
        #expect(try server.request("GET", "/plaintext", headers: many).status == 431)
    }
}

@Suite struct TrustedForwardingTests {
    /// A peer whose uid is listed sets the client (the last hop of `X-Forwarded-For`) and the scheme; so does one
    /// running as AppServer's own user when only a network is listed.
    @Test(arguments: [
        ("forwarded_allow: [\"\(getuid())\"]", "203.0.113.9, 198.51.100.4", "198.51.100.4"),
        ("forwarded_allow: [\"10.0.0.0/8\"]", "203.0.113.9", "203.0.113.9"),
    ])
    func aTrustedPeerSetsClientAndScheme(config: String, forwardedFor: String, client: String) throws {
        let server = try AppServerProcess(config: config)
        let response = try server.request(
            "GET", "/echo", headers: ["X-Forwarded-For: \(forwardedFor)", "X-Forwarded-Proto: https"])
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        #expect(object?["client_address"] as? String == client)
        #expect(object?["scheme"] as? String == "https")
    }

    /// Needs a client running as another user than AppServer, so only runs where the tests may switch users.
    @Test(.enabled(if: Unprivileged.switchesUser, "needs root to connect as another user"))
    func forwardedHeadersFromAnUnlistedUserAreRemoved() throws {
        let server = try AppServerProcess(config: "socket_mode: \"0666\"\nforwarded_allow: [\"10.0.0.0/8\"]")
        let command = try Unprivileged.command(
            "/usr/bin/curl",
            [
                "-s", "--max-time", "20", "--unix-socket", server.socketPath, "http://app/echo",
                "-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Forwarded-Proto: https", "-H", "X-Real-IP: 6.6.6.6",
            ])
        let result = try runToCompletion(command.executable, command.arguments)
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let names = (object?["headers"] as? [[String: String]] ?? []).compactMap { $0["name"]?.lowercased() }
        #expect(
            !names.contains("x-forwarded-for") && !names.contains("x-real-ip") && !names.contains("x-forwarded-proto"))
        #expect(object?["client_address"] as? String == "unix:uid=\(Unprivileged.uid)", "\(result.output)")
        #expect(object?["scheme"] as? String == "http")
    }
}

@Suite struct TCPBindTests {
    @Test func servesOverTCPAndTrustsForwardedHeadersOnlyFromListedRanges() throws {
        let server = try AppServerProcess(
            config: "forwarded_allow: [\"127.0.0.1/32\"]", arguments: ["--bind", "127.0.0.1:0"])
        let line = try #require(server.log.lines.first { $0.contains("listening bind=127.0.0.1:") })
        let port = try #require(
            Int(line.split(separator: " ").first { $0.hasPrefix("bind=") }!.split(separator: ":").last!))
        #expect(try get(port, "/plaintext").bodyText == "Hello, World!")
        let trusted = try get(port, "/echo", "X-Forwarded-For: 203.0.113.5", "X-Forwarded-Proto: https")
        let object = try JSONSerialization.jsonObject(with: Data(trusted.body)) as? [String: Any]
        #expect(object?["client_address"] as? String == "203.0.113.5")
        #expect(object?["scheme"] as? String == "https")

        let strict = try AppServerProcess(
            config: "forwarded_allow: [\"10.0.0.0/8\"]", arguments: ["--bind", "127.0.0.1:0"])
        let strictLine = try #require(strict.log.lines.first { $0.contains("listening bind=127.0.0.1:") })
        let strictPort = try #require(
            Int(strictLine.split(separator: " ").first { $0.hasPrefix("bind=") }!.split(separator: ":").last!))
        let untrusted = try get(strictPort, "/echo", "X-Forwarded-For: 203.0.113.5")
        let seen = try JSONSerialization.jsonObject(with: Data(untrusted.body)) as? [String: Any]
        #expect(seen?["client_address"] as? String == "127.0.0.1")
    }
}

@Suite struct DescriptorShortageTests {
    /// A worker out of file descriptors stops accepting for a moment, says so (once a second, not per retry),
    /// keeps its open connections, and accepts again once descriptors free up.
    @Test func aWorkerOutOfDescriptorsPausesSaysSoAndRecovers() throws {
        let directory = TestDirectory()
        let launcher = directory.write(
            "limited.sh", "#!/bin/sh\nexec /usr/bin/prlimit --nofile=40 -- \(AppServerProcess.binary) \"$@\"\n")
        chmod(launcher, 0o755)
        let server = try AppServerProcess(directory: directory, config: "workers: 1", executable: launcher)
        let connections = try (0..<80).map { _ in try server.connect() }
        #expect(
            server.log.waitFor(containing: "out of file descriptors; pausing accept", timeout: 10) != nil,
            "\(server.log.text)")
        try connections[0].send("GET /plaintext HTTP/1.1\r\nHost: app\r\n\r\n")
        // Failed once in a full suite run ("connection closed before a complete response head") and never alone:
        // the server's log goes with any failure here.
        do {
            #expect(try connections[0].readResponse().bodyText == "Hello, World!")
        } catch {
            Issue.record("request on a connection accepted before the shortage: \(error)\n\(server.log.text)")
        }
        // The shortage is kept up for a second on purpose (the behaviour under test, not a wait for the server):
        // the log must not fill with one line per 100 ms retry meanwhile.
        Thread.sleep(forTimeInterval: 1)
        #expect(server.log.lines.filter { $0.contains("out of file descriptors") }.count <= 3)
        for connection in connections { connection.close() }
        do {
            #expect(try server.request("GET", "/plaintext").bodyText == "Hello, World!")
        } catch {
            Issue.record("request after the shortage: \(error)\n\(server.log.text)")
        }
    }
}

/// `log_format: json`: every line of the master and of its workers is one JSON object.
@Suite struct JSONLogTests {
    @Test func masterAndWorkersWriteOneObjectPerLine() throws {
        let server = try AppServerProcess(config: "log_format: json")
        server.process.terminate()
        server.process.waitUntilExit()
        let lines = server.log.text.split(separator: "\n")
        #expect(lines.count >= 3, "\(server.log.text)")
        var loggers = Set<String>()
        for line in lines {
            let object = try #require(
                try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "not JSON: \(line)")
            #expect(object["ts"] != nil && object["level"] != nil && object["msg"] != nil, "\(line)")
            loggers.insert(object["logger"] ?? "")
        }
        #expect(loggers.isSuperset(of: ["appserver.master", "appserver.worker"]), "\(loggers)")
    }
}
