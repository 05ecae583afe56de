import Foundation
import TestSupport
import Testing

/// HTTP/2 as no ordinary client speaks it, in raw frames through `openssl s_client`: requests whose DATA
/// contradicts their `content-length` (the classic way to smuggle a second request past a front server that turns
/// HTTP/2 into HTTP/1.1, H2.CL), and clients that never answer Edge's PING.
@Suite struct HTTP2RawFrameTests {
    let directory = TestDirectory()
    let upstream: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        let certificates = try TestCertificates(in: directory)
        directory.write("site/a.txt", "alpha")
        upstream = try FakeUpstream(
            directory: directory, name: "up.sock", behaviour: .fixed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        edge = try EdgeProcess(
            directory: directory, listen: certificates.tlsListener,
            // Short timeouts end the raw connection (and so s_client) soon after the exchange.
            config: """
                upstreams: {app: {servers: ["unix:up.sock"]}}
                routes: [{prefix: /static/, dir: site}, {prefix: /, upstream: app}]
                timeouts: {keepalive: 1s, shutdown: 1s, body: 1s}
                """)
    }

    /// Sends `frames` after the client preface and an empty SETTINGS, and returns the frames Edge sent back until
    /// it closed the connection; `nil` if it had not closed it after 20 seconds.
    private func exchange(_ frames: Data) throws -> [(type: UInt8, stream: UInt32, payload: [UInt8])]? {
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

    /// A stream whose request never ends (HEADERS without END_STREAM, then nothing) to a static route gets 408
    /// after `timeouts.body`: no other timer watches a stream (a proxied one had the body timeout already).
    @Test func aStreamWhoseBodyNeverComesGets408() throws {
        let fields = [
            (":method", "POST"), (":scheme", "https"), (":path", "/static/a.txt"), (":authority", "localhost"),
        ]
        let frames = Self.frame(
            type: 1, flags: 4, stream: 1, payload: fields.reduce(into: Data()) { $0 += Self.literal($1.0, $1.1) })
        let received = try #require(try exchange(frames), "the connection was still open after 20 seconds")
        #expect(received.contains { $0.type == 1 && $0.stream == 1 }, "no response HEADERS")
        let lines = try edge.stopAndReadAccessLog()
        #expect(lines.count == 1 && lines[0].contains("\"POST /static/a.txt HTTP/2.0\" 408 "), "\(lines)")
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

    static func frames(in bytes: [UInt8]) -> [(type: UInt8, stream: UInt32, payload: [UInt8])] {
        var found: [(type: UInt8, stream: UInt32, payload: [UInt8])] = []
        var index = 0
        while index + 9 <= bytes.count {
            let length = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            let stream = bytes[index + 5..<index + 9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7fff_ffff
            guard index + 9 + length <= bytes.count else { break }
            found.append((bytes[index + 3], stream, Array(bytes[index + 9..<index + 9 + length])))
            index += 9 + length
        }
        return found
    }
}
