import CompressNIO
import Foundation
import NIOCore
import TestSupport
import Testing

/// gzip through the real `edge` binary: static files (in memory, from disk, precompressed) and proxied responses.
@Suite struct CompressionTests {
    let directory = TestDirectory()
    let edge: EdgeProcess
    let upstreams: [FakeUpstream]
    // ~108 KiB, read from disk.
    let page = String(repeating: "<p>Edge compresses this page on the fly.</p>\n", count: 2400)
    let small = String(repeating: "<li>kept in memory</li>\n", count: 100)
    /// A 3.4 MiB script bundle: too large to gzip in one go, so it is gzipped as it is sent.
    let bundle = (0..<60_000).map { "export const value\($0) = \($0 * 7919 % 10_007); // module line\n" }.joined()
    let json = "{\"items\": [" + Array(repeating: "\"value\"", count: 200).joined(separator: ",") + "]}"

    init() throws {
        directory.write("site/page.html", page)
        directory.write("site/small.html", small)
        directory.write("site/tiny.html", "<p>tiny</p>")
        directory.write("site/bundle.js", bundle)
        directory.write("site/logo.png", Data(repeating: 7, count: 5000))
        directory.write("site/pre.js", String(repeating: "console.log('original');\n", count: 100))
        directory.write("site/pre.js.gz", Data(try gzip("PRECOMPRESSED VARIANT")))
        directory.write("site/old.js", String(repeating: "let fresh = true;\n", count: 100))
        directory.write("site/old.js.gz", Data(try gzip("STALE VARIANT")))
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: directory.path + "/site/old.js.gz")
        upstreams = [
            try FakeUpstream(
                directory: directory, name: "json.sock",
                behaviour: .fixed(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\nVary: Origin\r\nETag: \"u1\"\r\n\r\n\(json)"
                )),
            try FakeUpstream(
                directory: directory, name: "encoded.sock",
                behaviour: .fixed(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: br\r\nContent-Length: 600\r\n\r\n\(String(repeating: "b", count: 600))"
                )),
            try FakeUpstream(
                directory: directory, name: "nt.sock",
                behaviour: .fixed(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nCache-Control: public, no-transform\r\nContent-Length: 600\r\n\r\n\(String(repeating: "n", count: 600))"
                )),
        ]
        edge = try EdgeProcess(
            directory: directory,
            config: """
                upstreams:
                  json: {servers: ["unix:json.sock"]}
                  encoded: {servers: ["unix:encoded.sock"]}
                  nt: {servers: ["unix:nt.sock"]}
                routes:
                  - {prefix: /api/json, upstream: json}
                  - {prefix: /api/encoded, upstream: encoded}
                  - {prefix: /api/nt, upstream: nt}
                  - {prefix: /, dir: site}
                compression: {gzip_level: 6, min_length: 256, precompressed: true}
                """)
    }

    @Test(arguments: ["/page.html", "/small.html"])
    func staticFilesRoundTrip(path: String) throws {
        let response = try get(edge.port, path, "Accept-Encoding: gzip, deflate, br")
        #expect(response.status == 200)
        #expect(response.header("Content-Encoding") == "gzip")
        #expect(response.header("Vary") == "Accept-Encoding")
        #expect(response.header("Content-Length") == nil)
        #expect(response.header("Accept-Ranges") == nil)
        #expect(response.header("ETag")?.hasPrefix("W/\"") == true)
        #expect(try gunzip(response.body) == (path == "/page.html" ? page : small))
        #expect(response.body.count < page.utf8.count / 10 || path == "/small.html")
        // Again: a small file's gzipped form is kept with it, and must be the same response.
        let again = try get(edge.port, path, "Accept-Encoding: gzip")
        #expect(again.body == response.body)
        #expect(again.header("ETag") == response.header("ETag"))
        #expect(again.header("Content-Encoding") == "gzip")
    }

    @Test func aFileTooLargeToGzipInOneGoIsGzippedPieceByPiece() throws {
        let response = try get(edge.port, "/bundle.js", "Accept-Encoding: gzip")
        #expect(response.status == 200)
        #expect(response.header("Content-Encoding") == "gzip")
        #expect(response.header("Transfer-Encoding") == "chunked")
        #expect(response.header("Content-Length") == nil)
        #expect(response.header("ETag")?.hasPrefix("W/\"") == true)
        #expect(response.header("Vary") == "Accept-Encoding")
        #expect(try gunzip(response.body) == bundle)
        #expect(response.body.count < bundle.utf8.count / 3)
        // HEAD says what GET would; a client without gzip gets the file as it is, with its length.
        let connection = try edge.connect()
        try connection.send("HEAD /bundle.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        let head = try connection.readResponse(isHead: true)
        for name in ["Content-Encoding", "Transfer-Encoding", "ETag", "Vary", "Content-Length"] {
            #expect(head.header(name) == response.header(name), "\(name)")
        }
        let plain = try get(edge.port, "/bundle.js")
        #expect(plain.header("Content-Encoding") == nil)
        #expect(plain.header("Content-Length") == String(bundle.utf8.count))
        #expect(plain.bodyText == bundle)
        // Several at once on one event loop, each read a chunk at a time: every client gets the whole file.
        let bodies = try (0..<4).map { _ in try edge.connect() }.map { client in
            try client.send("GET /bundle.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
            return client
        }.map { try gunzip($0.readResponse().body) }
        #expect(bodies.allSatisfy { $0 == bundle })
    }

    @Test func clientsThatDeclineGetTheOriginalWithVary() throws {
        for decline in ["Accept-Encoding: gzip;q=0", "Accept-Encoding: identity", "Accept-Encoding: br", "X-None: 1"] {
            let response = try get(edge.port, "/page.html", decline)
            #expect(response.header("Content-Encoding") == nil, "\(decline)")
            #expect(response.header("Vary") == "Accept-Encoding")
            #expect(response.header("Content-Length") == String(page.utf8.count))
            #expect(response.header("ETag")?.hasPrefix("\"") == true)
            #expect(response.bodyText == page)
        }
        #expect(try get(edge.port, "/page.html", "Accept-Encoding: *").header("Content-Encoding") == "gzip")
        // A small file (kept in memory, its answers kept with it) declined, declined again, then taken.
        for _ in 0..<2 {
            let declined = try get(edge.port, "/small.html", "Accept-Encoding: identity")
            #expect(declined.header("Content-Encoding") == nil)
            #expect(declined.header("Vary") == "Accept-Encoding")
            #expect(declined.header("Content-Length") == String(small.utf8.count))
            #expect(declined.bodyText == small)
        }
        #expect(try gunzip(get(edge.port, "/small.html", "Accept-Encoding: gzip").body) == small)
        #expect(try get(edge.port, "/small.html", "Accept-Encoding: identity").bodyText == small)
    }

    @Test func rulesThatKeepResponsesAsTheyAre() throws {
        for _ in 0..<2 {
            let tiny = try get(edge.port, "/tiny.html", "Accept-Encoding: gzip")
            #expect(
                tiny.header("Content-Encoding") == nil && tiny.header("Vary") == "Accept-Encoding"
                    && tiny.bodyText == "<p>tiny</p>")
        }
        let image = try get(edge.port, "/logo.png", "Accept-Encoding: gzip")
        #expect(image.header("Content-Encoding") == nil && image.header("Vary") == nil && image.body.count == 5000)
        let range = try get(edge.port, "/page.html", "Accept-Encoding: gzip", "Range: bytes=0-9")
        #expect(
            range.status == 206 && range.header("Content-Encoding") == nil && range.bodyText == String(page.prefix(10)))
        let old = try fetch(edge.port, "GET /page.html HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
        #expect(old.header("Content-Encoding") == nil && old.bodyText == page)
    }

    @Test func headAnswersWhatGetWould() throws {
        let connection = try edge.connect()
        try connection.send(
            "HEAD /page.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\nGET /page.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
        )
        let head = try connection.readResponse(isHead: true)
        let full = try connection.readResponse()
        #expect(head.body.isEmpty)
        for name in ["Content-Encoding", "Vary", "ETag", "Content-Length", "Transfer-Encoding", "Content-Type"] {
            #expect(head.header(name) == full.header(name), "\(name)")
        }
        #expect(try gunzip(full.body) == page)
    }

    @Test func weakETagOfTheGzippedVariantGets304() throws {
        let first = try get(edge.port, "/page.html", "Accept-Encoding: gzip")
        let etag = try #require(first.header("ETag"))
        let again = try get(edge.port, "/page.html", "Accept-Encoding: gzip", "If-None-Match: \(etag)")
        #expect(again.status == 304)
        #expect(again.header("ETag") == etag)
        #expect(again.header("Vary") == "Accept-Encoding")
    }

    @Test func precompressedFilesAreSentAsTheyAre() throws {
        let response = try get(edge.port, "/pre.js", "Accept-Encoding: gzip")
        #expect(response.header("Content-Encoding") == "gzip")
        #expect(response.header("Content-Type") == "text/javascript; charset=utf-8")
        #expect(response.header("Vary") == "Accept-Encoding")
        #expect(response.header("ETag")?.hasPrefix("W/\"") == true)
        #expect(try gunzip(response.body) == "PRECOMPRESSED VARIANT")
        #expect(response.header("Content-Length") == String(response.body.count))
        // Ranges come from the original file; a .gz older than its file is ignored (gzip on the fly instead).
        let range = try get(edge.port, "/pre.js", "Accept-Encoding: gzip", "Range: bytes=0-6")
        #expect(range.status == 206 && range.bodyText == "console")
        let stale = try get(edge.port, "/old.js", "Accept-Encoding: gzip")
        #expect(try gunzip(stale.body) == String(repeating: "let fresh = true;\n", count: 100))
        #expect(try get(edge.port, "/pre.js").bodyText.hasPrefix("console.log"))
    }

    @Test func aReplacedOrRemovedPrecompressedFileIsNoticedAfterItWasServed() throws {
        directory.write("site/app.js", String(repeating: "console.log('app');\n", count: 100))
        directory.write("site/app.js.gz", Data(try gzip("FIRST BUILD")))
        // Served twice, so the second answer comes through the variant the cached original links to.
        for _ in 0..<2 { #expect(try gunzip(get(edge.port, "/app.js", "Accept-Encoding: gzip").body) == "FIRST BUILD") }

        directory.write("site/app.js.gz", Data(try gzip("SECOND BUILD, LONGER")))
        #expect(try gunzip(get(edge.port, "/app.js", "Accept-Encoding: gzip").body) == "SECOND BUILD, LONGER")

        try FileManager.default.removeItem(atPath: directory.path + "/site/app.js.gz")
        let onTheFly = try get(edge.port, "/app.js", "Accept-Encoding: gzip")
        #expect(try gunzip(onTheFly.body) == String(repeating: "console.log('app');\n", count: 100))
    }

    /// A page too large for the memory cache is read for gzip through a cached descriptor: a new version on disk
    /// must be what the next client gets, never the one that descriptor was opened on.
    @Test func aGzippedPageRewrittenOnDiskIsServedNew() throws {
        let first = String(repeating: "<p>the first version</p>\n", count: 2000)
        directory.write("site/changing.html", first)
        for _ in 0..<2 { #expect(try gunzip(get(edge.port, "/changing.html", "Accept-Encoding: gzip").body) == first) }

        let second = String(repeating: "<p>the second, longer version</p>\n", count: 2000)
        directory.write("site/changing.html", second)
        #expect(try gunzip(get(edge.port, "/changing.html", "Accept-Encoding: gzip").body) == second)

        // Both small (kept in memory, their gzipped form kept with them): the old gzipped bytes go with the old file.
        directory.write("site/changing.html", first)
        for _ in 0..<2 { #expect(try gunzip(get(edge.port, "/changing.html", "Accept-Encoding: gzip").body) == first) }
        let third = String(repeating: "<p>a third</p>\n", count: 2000)
        directory.write("site/changing.html", third)
        #expect(try gunzip(get(edge.port, "/changing.html", "Accept-Encoding: gzip").body) == third)
    }

    @Test func proxiedResponsesAreGzippedWithMergedVary() throws {
        let response = try get(edge.port, "/api/json", "Accept-Encoding: gzip")
        #expect(response.status == 200)
        #expect(response.header("Content-Encoding") == "gzip")
        #expect(response.header("Vary") == "Origin, Accept-Encoding")
        #expect(response.header("ETag") == "W/\"u1\"")
        #expect(response.header("Content-Length") == nil)
        #expect(try gunzip(response.body) == json)
        let plain = try get(edge.port, "/api/json")
        #expect(
            plain.header("Content-Encoding") == nil && plain.bodyText == json
                && plain.header("Vary") == "Origin, Accept-Encoding")
    }

    /// HEAD through the proxy gets the headers GET would get: the gzip variant's, framing included.
    @Test func proxiedHeadAnswersWhatGetWould() throws {
        let connection = try edge.connect()
        try connection.send(
            "HEAD /api/json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\nGET /api/json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
        )
        let head = try connection.readResponse(isHead: true)
        let full = try connection.readResponse()
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(head.header("Content-Encoding") == "gzip")
        for name in ["Content-Encoding", "Vary", "ETag", "Content-Length", "Transfer-Encoding", "Content-Type"] {
            #expect(head.header(name) == full.header(name), "\(name)")
        }
        #expect(try gunzip(full.body) == json)
    }

    @Test func encodedOrNoTransformUpstreamResponsesPassUntouched() throws {
        let encoded = try get(edge.port, "/api/encoded", "Accept-Encoding: gzip")
        #expect(encoded.header("Content-Encoding") == "br" && encoded.bodyText == String(repeating: "b", count: 600))
        let kept = try get(edge.port, "/api/nt", "Accept-Encoding: gzip")
        #expect(kept.header("Content-Encoding") == nil && kept.header("Content-Length") == "600")
    }

    @Test func levelZeroTurnsCompressionOff() throws {
        let off = try EdgeProcess(
            directory: directory,
            config: "routes:\n  - {prefix: /, dir: site}\ncompression: {gzip_level: 0, precompressed: false}\n")
        let response = try get(off.port, "/page.html", "Accept-Encoding: gzip")
        #expect(response.header("Content-Encoding") == nil && response.bodyText == page)
        #expect(try get(off.port, "/pre.js", "Accept-Encoding: gzip").header("Content-Encoding") == nil)
    }
}

/// gzip bytes of `text`, for precompressed fixtures.
func gzip(_ text: String) throws -> [UInt8] {
    var input = ByteBuffer(string: text)
    var output = ByteBuffer()
    output.reserveCapacity(text.utf8.count + 256)
    try ZlibCompressor(algorithm: .gzip).deflate(from: &input, to: &output, flush: .finish)
    return Array(output.readableBytesView)
}

/// The text a gzip stream inflates to (a stream cut after a flush inflates to what was flushed).
func gunzip(_ bytes: [UInt8]) throws -> String {
    var input = ByteBuffer(bytes: bytes)
    var output = ByteBuffer()
    output.reserveCapacity(8 << 20)
    let inflater = try ZlibDecompressor(algorithm: .gzip)
    do {
        try inflater.inflate(from: &input, to: &output)
    } catch let error as CompressNIOError where error == .inputBufferOverflow || error == .bufferOverflow {
        // An unfinished stream: keep what it gave.
    }
    return String(buffer: output)
}

/// Server-sent events from an upstream that sends the next event only when the test says so, gzipped by Edge
/// piece by piece.
@Suite struct CompressedStreamTests {
    let directory = TestDirectory()
    let events: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        events = try FakeUpstream(directory: directory, name: "events.sock", behaviour: .eventStream)
        edge = try EdgeProcess(
            directory: directory,
            config: """
                upstreams:
                  events: {servers: ["unix:events.sock"]}
                routes:
                  - {prefix: /, upstream: events}
                compression: {min_length: 1, types: [text/event-stream]}
                """)
    }

    @Test func eachEventArrivesCompressedBeforeTheNextIsProduced() throws {
        let connection = try edge.connect()
        try connection.send("GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        // The second event is not sent until the first, compressed, has been read: an Edge that held compressed
        // bytes back until the end would leave this read waiting until it gave up.
        var received = try connection.readBytes { try gunzip(dechunkedBody(of: $0)).contains("data: 0") }
        #expect(String(decoding: received, as: UTF8.self).contains("Content-Encoding: gzip"))
        events.release()
        received += try connection.readBytes { String(decoding: $0, as: UTF8.self).hasSuffix("\r\n0\r\n\r\n") }
        #expect(try gunzip(dechunkedBody(of: received)) == "data: 0\n\ndata: 1\n\n")
    }

    /// The chunk data of a response received so far (complete chunks only).
    private func dechunkedBody(of response: [UInt8]) -> [UInt8] {
        let text = response
        guard
            let headEnd = (0..<max(0, text.count - 3)).first(where: {
                text[$0] == 13 && text[$0 + 1] == 10 && text[$0 + 2] == 13 && text[$0 + 3] == 10
            })
        else { return [] }
        var index = headEnd + 4
        var body: [UInt8] = []
        while let lineEnd = (index..<max(index, text.count - 1)).first(where: { text[$0] == 13 && text[$0 + 1] == 10 }),
            let size = Int(String(decoding: text[index..<lineEnd], as: UTF8.self), radix: 16), size > 0,
            lineEnd + 2 + size <= text.count
        {
            body += text[(lineEnd + 2)..<(lineEnd + 2 + size)]
            index = lineEnd + 2 + size + 2
        }
        return body
    }
}
