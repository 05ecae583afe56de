import Foundation
import TestSupport
import Testing

/// HTTP/2 as no ordinary client speaks it, in raw frames through `openssl s_client`: requests whose DATA
/// contradicts their `content-length` (the classic way to smuggle a second request past a front server that turns
/// HTTP/2 into HTTP/1.1, H2.CL), and clients that never answer Edge's PING.
@Suite struct HTTP2RawFrameTests {
    let directory = TestDirectory()
    let upstream: FakeUpstream
    /// Reads a request body until Edge closes the connection.
    let sink: FakeUpstream
    /// A 64 KiB response: more than a stream may hold waiting for the client's window.
    let large: FakeUpstream
    /// Sends part of a response, then resets the connection.
    let cut: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        let certificates = try TestCertificates(in: directory)
        directory.write("site/a.txt", "alpha")
        upstream = try FakeUpstream(
            directory: directory, name: "up.sock", behaviour: .fixed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        sink = try FakeUpstream(directory: directory, name: "sink.sock", behaviour: .swallowChunkedBody)
        large = try FakeUpstream(
            directory: directory, name: "large.sock",
            behaviour: .fixed("HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n" + String(repeating: "x", count: 65536))
        )
        cut = try FakeUpstream(directory: directory, name: "cut.sock", behaviour: .resetMidResponse)
        edge = try EdgeProcess(
            directory: directory, listen: certificates.tlsListener,
            // Short timeouts end the raw connection (and so s_client) soon after the exchange.
            config: """
                upstreams:
                  app: {servers: ["unix:up.sock"]}
                  sink: {servers: ["unix:sink.sock"]}
                  large: {servers: ["unix:large.sock"]}
                  cut: {servers: ["unix:cut.sock"]}
                routes:
                  - {prefix: /static/, dir: site}
                  - {prefix: /sink/, upstream: sink}
                  - {prefix: /large/, upstream: large}
                  - {prefix: /cut/, upstream: cut}
                  - {prefix: /, upstream: app}
                timeouts: {keepalive: 1s, shutdown: 1s, body: 1s, send: 1s}
                """)
    }

    /// Sends `frames` after the client preface and an empty SETTINGS, and returns the frames Edge sent back until
    /// it closed the connection; `nil` if it had not closed it after 20 seconds.
    private func exchange(_ frames: Data) throws -> [Frame]? {
        var sent = Data("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        sent += Self.frame(type: 4, flags: 0, stream: 0, payload: Data())
        directory.write("frames.bin", sent + frames)
        let result = try runToCompletion(
            "/bin/sh",
            [
                "-c",
                "timeout 20 openssl s_client -connect 127.0.0.1:\(edge.port) -alpn h2 -servername localhost -quiet "
                    + "< \(directory.path)/frames.bin > \(directory.path)/received.bin 2>/dev/null; echo $?",
            ])
        guard result.output.trimmingCharacters(in: .whitespacesAndNewlines) != "124" else { return nil }
        return Self.frames(in: Array(try Data(contentsOf: URL(fileURLWithPath: directory.path + "/received.bin"))))
    }

    /// Edge closes an idle connection with GOAWAY and a PING, and for good when the PING is answered. A client
    /// that opens no stream and answers nothing is closed all the same.
    @Test func aSilentConnectionIsClosedThoughItNeverAnswersThePing() throws {
        let received = try #require(try exchange(Data()), "the connection was still open after 20 seconds")
        #expect(received.contains { $0.type == 7 }, "no GOAWAY")
    }

    /// A GET whose body never ends (HEADERS without END_STREAM, then nothing) to a static route gets 408 after
    /// `timeouts.body`: no other timer watches a stream (a proxied one had the body timeout already).
    @Test func aStreamWhoseBodyNeverComesGets408() throws {
        let fields = [
            (":method", "GET"), (":scheme", "https"), (":path", "/static/a.txt"), (":authority", "localhost"),
        ]
        let frames = Self.frame(
            type: 1, flags: 4, stream: 1, payload: fields.reduce(into: Data()) { $0 += Self.literal($1.0, $1.1) })
        let received = try #require(try exchange(frames), "the connection was still open after 20 seconds")
        #expect(received.contains { $0.type == 1 && $0.stream == 1 }, "no response HEADERS")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.count == 1 && lines[0].contains("\"GET /static/a.txt HTTP/2.0\" 408 "), "\(lines)")
    }

    /// A POST to a static route is answered 405 as soon as its HEADERS arrive, not after its body (which here never
    /// comes: waiting would have given 408 after `timeouts.body`).
    @Test func aPOSTToAStaticRouteGets405WithoutItsBody() throws {
        let fields = [
            (":method", "POST"), (":scheme", "https"), (":path", "/static/a.txt"), (":authority", "localhost"),
            ("content-length", "100000"),
        ]
        let received = try #require(
            try exchange(Self.frame(type: 1, flags: 4, stream: 1, payload: Self.block(fields))),
            "the connection was still open after 20 seconds")
        #expect(received.contains { $0.type == 1 && $0.stream == 1 }, "no response HEADERS")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.count == 1 && lines[0].contains("\"POST /static/a.txt HTTP/2.0\" 405 "), "\(lines)")
    }

    /// A small file's response is one HEADERS frame and one DATA frame that ends the stream: an empty DATA frame
    /// to end it cost every response a tenth of its work.
    @Test func aSmallFileIsHeadersAndOneDataFrameEndingTheStream() throws {
        let fields = [
            (":method", "GET"), (":scheme", "https"), (":path", "/static/a.txt"), (":authority", "localhost"),
        ]
        let received = try #require(
            try exchange(Self.frame(type: 1, flags: 5, stream: 1, payload: Self.block(fields))),
            "the connection was still open after 20 seconds")
        let response = received.filter { $0.stream == 1 }
        #expect(response.map(\.type) == [1, 0], "\(response.map { ($0.type, $0.flags) })")
        #expect(response.first.map { $0.flags & 1 } == 0, "HEADERS ended the stream")
        #expect(response.last.map { $0.flags & 1 } == 1, "the DATA frame did not end the stream")
        #expect(response.last?.payload == Array("alpha".utf8))
    }

    @Test(arguments: [3, 50])
    func aBodyContradictingItsContentLengthIsResetAndLoggedAs400(declaredLength: Int) throws {
        let smuggled = "helloGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
        var frames = Data()
        let fields = [
            (":method", "POST"), (":scheme", "https"), (":path", "/echo"), (":authority", "localhost"),
            ("content-length", String(declaredLength)),
        ]
        frames += Self.frame(
            type: 1, flags: 4, stream: 1, payload: fields.reduce(into: Data()) { $0 += Self.literal($1.0, $1.1) })
        frames += Self.frame(
            type: 0, flags: 1, stream: 1, payload: Data((declaredLength == 3 ? smuggled : "hello").utf8))
        let received = try #require(try exchange(frames), "the connection was still open after 20 seconds")
        let reset = received.first { $0.type == 3 && $0.stream == 1 }
        #expect(reset?.payload == [0, 0, 0, 1], "no RST_STREAM(PROTOCOL_ERROR) for stream 1")

        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.count == 1 && lines[0].contains("\"POST /echo HTTP/2.0\" 400 "), "\(lines)")
        #expect(edge.waitForLog(containing: "malformed request") != nil)
        // Nothing of the smuggled request reached the upstream as a request of its own.
        #expect(!upstream.requestLines.contains { $0.contains("/plaintext") }, "\(upstream.requestLines)")
    }

    /// Fields HTTP/2 forbids (a connection-specific one, an upper-case name) make a request malformed: it is
    /// answered 400 and never reaches the upstream, and the connection's next stream is served.
    @Test(arguments: [("connection", "keep-alive"), ("X-Upper", "1"), ("te", "gzip")])
    func aRequestWithAFieldHTTP2ForbidsGets400(field: (String, String)) throws {
        let bad = [
            (":method", "GET"), (":scheme", "https"), (":path", "/forbidden"), (":authority", "localhost"), field,
        ]
        let good = [(":method", "GET"), (":scheme", "https"), (":path", "/static/a.txt"), (":authority", "localhost")]
        let received = try #require(
            try exchange(
                Self.frame(type: 1, flags: 5, stream: 1, payload: Self.block(bad))
                    + Self.frame(type: 1, flags: 5, stream: 3, payload: Self.block(good))),
            "the connection was still open after 20 seconds")
        let answer = try #require(received.first { $0.type == 1 && $0.stream == 1 }, "no response HEADERS")
        // `:status: 400` is entry 12 of HPACK's static table: one byte, 0x80 | 12, for the whole header block.
        #expect(answer.payload == [0x8C], "\(answer.payload)")
        #expect(received.contains { $0.type == 1 && $0.stream == 3 }, "no response HEADERS on stream 3")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.contains { $0.contains("\"GET /static/a.txt HTTP/2.0\" 200 ") }, "\(lines)")
        #expect(!upstream.requestLines.contains { $0.contains("/forbidden") }, "\(upstream.requestLines)")
    }

    /// Trailers with a pseudo-field end the request as NIO ended one with a protocol error: RST_STREAM
    /// (PROTOCOL_ERROR), the upload aborted, logged 400.
    @Test func trailersWithAPseudoFieldResetTheStream() throws {
        let fields = [(":method", "POST"), (":scheme", "https"), (":path", "/sink/up"), (":authority", "localhost")]
        let frames =
            Self.frame(type: 1, flags: 4, stream: 1, payload: Self.block(fields))
            + Self.frame(type: 0, flags: 0, stream: 1, payload: Data("hello".utf8))
            + Self.frame(type: 1, flags: 5, stream: 1, payload: Self.block([(":path", "/smuggled")]))
        let received = try #require(try exchange(frames), "the connection was still open after 20 seconds")
        let reset = received.first { $0.type == 3 && $0.stream == 1 }
        #expect(reset?.payload == [0, 0, 0, 1], "no RST_STREAM(PROTOCOL_ERROR) for stream 1: \(received.map(\.type))")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.count == 1 && lines[0].contains("\"POST /sink/up HTTP/2.0\" 400 "), "\(lines)")
        #expect(edge.waitForLog(containing: "malformed request") != nil)
    }

    /// A client that resets its stream before the answer (RST_STREAM: HTTP/2's way of hanging up on one request),
    /// in the middle of an upload or while its GET waits for the app, aborts the proxied request: the upstream
    /// connection is closed rather than left waiting, the access log says 499, and the connection's other streams go
    /// on. (A proxied GET is carried on the connection, an upload on a stream channel: both ways are covered.)
    @Test(arguments: [true, false])
    func aStreamResetBeforeItsAnswerAbortsItsUpstreamRequest(uploading: Bool) throws {
        let received = directory.path + "/received.bin"
        directory.write("received.bin", "")
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/bin/sh")
        client.arguments = [
            "-c", "exec openssl s_client -connect 127.0.0.1:\(edge.port) -alpn h2 -servername localhost -quiet",
        ]
        let input = Pipe()
        client.standardInput = input
        client.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: received))
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { if client.isRunning { client.terminate() } }
        let send = input.fileHandleForWriting

        let method = uploading ? "POST" : "GET"
        let request = [(":method", method), (":scheme", "https"), (":path", "/sink/up"), (":authority", "localhost")]
        let preface =
            Data("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + Self.frame(type: 4, flags: 0, stream: 0, payload: Data())
        if uploading {
            send.write(
                preface + Self.frame(type: 1, flags: 4, stream: 1, payload: Self.block(request))
                    + Self.frame(type: 0, flags: 0, stream: 1, payload: Data(repeating: 0x61, count: 8000)))
        } else {
            send.write(preface + Self.frame(type: 1, flags: 5, stream: 1, payload: Self.block(request)))
        }
        #expect(sink.waitForRequests(1), "the request never reached the upstream")
        send.write(Self.frame(type: 3, flags: 0, stream: 1, payload: Data([0, 0, 0, 8])))  // CANCEL
        #expect(sink.waitForClosed(1), "the upstream connection was left open after the reset")

        let page = [(":method", "GET"), (":scheme", "https"), (":path", "/static/a.txt"), (":authority", "localhost")]
        send.write(Self.frame(type: 1, flags: 5, stream: 3, payload: Self.block(page)))
        // Edge ends the connection once it has been idle for `timeouts.keepalive`.
        #expect(eventually(within: 20) { !client.isRunning }, "the connection was still open after 20 seconds")
        let frames = Self.frames(in: Array(try Data(contentsOf: URL(fileURLWithPath: received))))
        #expect(frames.contains { $0.type == 1 && $0.stream == 3 }, "no response HEADERS on stream 3")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.contains { $0.contains("\"\(method) /sink/up HTTP/2.0\" 499 ") }, "\(lines)")
        #expect(lines.contains { $0.contains("\"GET /static/a.txt HTTP/2.0\" 200 ") }, "\(lines)")
    }

    /// Proxied responses the client's window (0 from the start) holds back are given up after `timeouts.send`, the
    /// large one with the upstream request it was still reading, the small one with its last frame unsent: each
    /// stream is reset (CANCEL) and logged with the status it began with.
    @Test func proxiedResponsesAWindowHoldsBackAreGivenUp() throws {
        let zeroWindow = Data([0, 4, 0, 0, 0, 0])  // SETTINGS_INITIAL_WINDOW_SIZE = 0
        var frames = Self.frame(type: 4, flags: 0, stream: 0, payload: zeroWindow)
        for (stream, path) in [(1, "/large/page"), (3, "/small")] {
            let fields = [(":method", "GET"), (":scheme", "https"), (":path", path), (":authority", "localhost")]
            frames += Self.frame(type: 1, flags: 5, stream: UInt32(stream), payload: Self.block(fields))
        }
        let received = try #require(try exchange(frames), "the connection was still open after 20 seconds")
        for stream: UInt32 in [1, 3] {
            let response = received.filter { $0.stream == stream }
            #expect(response.first?.type == 1, "stream \(stream) got no HEADERS first: \(response.map(\.type))")
            #expect(!response.contains { $0.flags & 1 == 1 }, "stream \(stream) ended though its window was shut")
            #expect(
                response.last.map { $0.type == 3 && $0.payload == [0, 0, 0, 8] } == true,
                "stream \(stream) was not reset with CANCEL: \(response.map(\.type))")
        }
        #expect(large.waitForClosed(1), "the large response's upstream connection was left open")
        #expect(edge.waitForLog(containing: "client stopped reading; closing") != nil)
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.contains { $0.contains("\"GET /large/page HTTP/2.0\" 200 ") }, "\(lines)")
        #expect(lines.contains { $0.contains("\"GET /small HTTP/2.0\" 200 ") }, "\(lines)")
    }

    /// An upstream that fails in the middle of its response: the client gets the stream reset (INTERNAL_ERROR), never
    /// an end that would pass a truncated body for a whole one.
    @Test func aResponseCutByTheUpstreamResetsTheStream() throws {
        let fields = [(":method", "GET"), (":scheme", "https"), (":path", "/cut/x"), (":authority", "localhost")]
        let received = try #require(
            try exchange(Self.frame(type: 1, flags: 5, stream: 1, payload: Self.block(fields))),
            "the connection was still open after 20 seconds")
        let response = received.filter { $0.stream == 1 }
        #expect(response.first?.type == 1, "\(response.map(\.type))")
        #expect(!response.contains { $0.flags & 1 == 1 }, "the stream ended as if the body were whole")
        #expect(
            response.last.map { $0.type == 3 && $0.payload == [0, 0, 0, 2] } == true,
            "not reset with INTERNAL_ERROR: \(response.map(\.type))")
        #expect(edge.waitForLog(containing: "proxy failed") != nil)
    }

    typealias Frame = (type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8])

    /// A header block of literal fields.
    static func block(_ fields: [(String, String)]) -> Data {
        fields.reduce(into: Data()) { $0 += literal($1.0, $1.1) }
    }

    /// An HPACK literal field without indexing, new name, no Huffman coding (names and values under 127 bytes).
    static func literal(_ name: String, _ value: String) -> Data {
        Data([0, UInt8(name.utf8.count)]) + Data(name.utf8) + Data([UInt8(value.utf8.count)]) + Data(value.utf8)
    }

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: Data) -> Data {
        let length = UInt32(payload.count)
        var header = Data([UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags])
        header += withUnsafeBytes(of: stream.bigEndian) { Data($0) }
        return header + payload
    }

    static func frames(in bytes: [UInt8]) -> [Frame] {
        var found: [Frame] = []
        var index = 0
        while index + 9 <= bytes.count {
            let length = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            let stream = bytes[index + 5..<index + 9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7fff_ffff
            guard index + 9 + length <= bytes.count else { break }
            found.append((bytes[index + 3], bytes[index + 4], stream, Array(bytes[index + 9..<index + 9 + length])))
            index += 9 + length
        }
        return found
    }
}
