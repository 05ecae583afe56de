import CompressNIO
import NIOCore
import Shared
import Testing

@testable import EdgeCore

@Suite struct AcceptEncodingTests {
    @Test(arguments: [
        ("gzip", true), ("GZIP", true), ("gzip, deflate, br", true), ("br;q=1.0, gzip;q=0.8", true), ("x-gzip", true),
        ("*", true), ("*;q=0.5", true), ("deflate, *", true), ("gzip;q=0", false), ("gzip; q=0.000", false),
        ("identity", false), ("br", false), ("*;q=0", false), ("gzip;q=0, *", false), ("", false),
        // Spacing, case and parameter forms the byte reader must treat as the RFC does.
        (" gzip ;  Q = 0.5 ", true), ("gzip;level=1", true), ("gzip;q=1e-3", true), ("gzip;q=", false),
        ("gzip;q=abc", false), (",, gzip", true), ("gzipx", false), ("gzip;q=0.5;q=0", false),
        ("deflate;q=0, x-GZIP", true),
    ])
    func qValuesDecide(header: String, accepted: Bool) {
        #expect(AcceptEncoding.allowsGzip(header) == accepted)
    }

    @Test func noHeaderMeansIdentity() {
        #expect(!AcceptEncoding.allowsGzip(nil))
    }

    /// Several lines are one list: a refusal on one line is not overruled by a wildcard on another, and a later
    /// line can name gzip that the first did not.
    @Test(arguments: [
        (["gzip;q=0", "*"], false), (["*", "gzip;q=0"], false), (["br", "gzip"], true), (["br", "identity"], false),
        (["br", "*"], true),
    ])
    func severalLinesAreOneList(lines: [String], accepted: Bool) throws {
        var parser = HTTP1RequestParser(limits: .init(maxURILength: 1024, maxHeaderSize: 4096))
        let fields = lines.map { "Accept-Encoding: \($0)\r\n" }.joined()
        parser.append(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\(fields)\r\n"))
        guard case .head(let head)? = try parser.next() else {
            Issue.record("no head parsed")
            return
        }
        #expect(AcceptEncoding.allowsGzip(head.headers) == accepted)
        #expect(RequestHeaderFacts(head.headers).acceptsGzip == accepted)
    }
}

@Suite struct CompressionPolicyTests {
    let policy = CompressionPolicy(CompressionConfig())

    private func decide(
        status: Int = 200, type: String? = "text/html; charset=utf-8", length: Int? = 10_000, accepts: Bool = true,
        http10: Bool = false, configure: (inout CompressionCandidate) -> Void = { _ in }
    ) -> CompressionDecision {
        var candidate = CompressionCandidate(status: status, mediaType: type, length: length)
        configure(&candidate)
        return policy.decide(candidate, acceptsGzip: accepts, clientIsHTTP10: http10)
    }

    @Test func compressesTextForClientsThatAcceptGzip() {
        #expect(decide() == .gzip)
        #expect(decide(type: "APPLICATION/JSON") == .gzip)
        #expect(decide(type: " text/html ;charset=utf-8") == .gzip)  // whitespace around the type is not part of it
        #expect(decide(length: nil) == .gzip)  // streamed: length unknown
        #expect(decide(status: 404) == .gzip)
        #expect(decide(status: 304) == .gzip)  // headers only: the weak ETag and Vary a 200 would carry
    }

    @Test func leavesOtherTypesAlone() {
        #expect(decide(type: "image/png") == .untouched)
        #expect(
            decide(type: "text/htmlx") == .untouched && decide(type: "text/htm") == .untouched
                && decide(type: "") == .untouched)
        #expect(decide(type: nil) == .untouched)
        #expect(decide { $0.isEncoded = true } == .untouched)
        #expect(decide { $0.forbidsTransform = true } == .untouched)
        #expect(decide(status: 204) == .untouched)
    }

    @Test func compressibleButSentAsIsStillVaries() {
        #expect(decide(accepts: false) == .varyOnly)
        #expect(decide(length: 100) == .varyOnly)
        #expect(decide(status: 206) == .varyOnly)
        #expect(decide { $0.isPartial = true } == .varyOnly)
        #expect(decide(http10: true) == .varyOnly)
    }

    @Test func levelZeroTurnsItOff() {
        var config = CompressionConfig()
        config.gzipLevel = 0
        #expect(
            CompressionPolicy(config).decide(
                .init(status: 200, mediaType: "text/html", length: 9999), acceptsGzip: true, clientIsHTTP10: false)
                == .untouched)
    }
}

@Suite struct GzipHeaderFilterTests {
    private func rewrite(_ lines: String, _ decision: CompressionDecision) -> String {
        var output = ByteBuffer()
        GzipHeaderFilter.rewrite(ByteBuffer(string: lines), for: decision, into: &output)
        return String(buffer: output)
    }

    @Test func gzipRewritesLengthEtagRangesAndAddsEncodingAndVary() {
        let head =
            "HTTP/1.1 200 OK\r\nServer: edge\r\nContent-Type: text/html\r\nContent-Length: 5000\r\nETag: \"abc\"\r\nAccept-Ranges: bytes\r\n"
        #expect(
            rewrite(head, .gzip)
                == "HTTP/1.1 200 OK\r\nServer: edge\r\nContent-Type: text/html\r\nETag: W/\"abc\"\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n"
        )
    }

    @Test func varyIsMergedNotDuplicated() {
        #expect(rewrite("Vary: Origin\r\n", .varyOnly) == "Vary: Origin, Accept-Encoding\r\n")
        #expect(rewrite("vary: accept-encoding\r\n", .varyOnly) == "vary: accept-encoding\r\n")
        #expect(rewrite("Vary: *\r\n", .varyOnly) == "Vary: *\r\n")
        #expect(rewrite("X: 1\r\n", .varyOnly) == "X: 1\r\nVary: Accept-Encoding\r\n")
        #expect(
            rewrite("ETag: W/\"x\"\r\n", .gzip)
                == "ETag: W/\"x\"\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n")
        #expect(rewrite("A: b\r\n", .untouched) == "A: b\r\n")
    }

    @Test func severalVaryLinesNameAcceptEncodingOnce() {
        // Already named on a later line: nothing added anywhere.
        #expect(
            rewrite("Vary: Cookie\r\nVary: accept-encoding\r\n", .varyOnly)
                == "Vary: Cookie\r\nVary: accept-encoding\r\n")
        #expect(
            rewrite("vary: accept-encoding\r\nVary: Cookie\r\n", .gzip)
                == "vary: accept-encoding\r\nVary: Cookie\r\nContent-Encoding: gzip\r\n")
        // Named nowhere: added to the first line only.
        #expect(
            rewrite("Vary: Origin\r\nVary: Cookie\r\n", .varyOnly)
                == "Vary: Origin, Accept-Encoding\r\nVary: Cookie\r\n")
    }

    @Test func contentEncodingIdentityGivesWayToGzip() {
        #expect(
            rewrite("Content-Encoding: identity\r\nContent-Type: text/html\r\n", .gzip)
                == "Content-Type: text/html\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n")
        #expect(
            rewrite("Content-Encoding: identity\r\n", .varyOnly)
                == "Content-Encoding: identity\r\nVary: Accept-Encoding\r\n")
    }
}

@Suite struct GzipEncoderTests {
    private func gunzip(_ chunked: ByteBuffer) throws -> String {
        // Undo the chunk framing, then inflate.
        var parser = HTTP1ResponseParserShim(chunked)
        var compressed = try parser.body()
        var output = ByteBuffer()
        output.reserveCapacity(1 << 20)
        let inflater = try ZlibDecompressor(algorithm: .gzip)
        try inflater.inflate(from: &compressed, to: &output)
        return String(buffer: output)
    }

    @Test func wholeBodyRoundTrips() throws {
        let text = String(repeating: "<p>Hello, gzip!</p>\n", count: 5000)
        let encoder = try GzipStreams(level: 5).take()
        let body = try encoder.finish(ByteBuffer(string: text), allocator: ByteBufferAllocator())
        #expect(body.readableBytes < text.utf8.count / 10)
        #expect(try gunzip(body) == text)
    }

    @Test func theGzipHeaderTravelsWithTheFirstCompressedBytes() throws {
        let encoder = try GzipStreams(level: 6).take()
        let allocator = ByteBufferAllocator()
        // zlib answers a first small piece with the 10-byte gzip header alone: not worth a chunk.
        #expect(try encoder.chunk(ByteBuffer(string: "data: one\n\n"), allocator: allocator).readableBytes == 0)
        let flushed = try encoder.flush(allocator: allocator)
        var shim = HTTP1ResponseParserShim(flushed + ByteBuffer(string: "0\r\n\r\n"))
        let payload = try shim.body()
        #expect(payload.getBytes(at: payload.readerIndex, length: 2) == [0x1F, 0x8B])
        #expect(payload.readableBytes > 10)
        #expect(try gunzip(flushed + (try encoder.finish(allocator: allocator))) == "data: one\n\n")
    }

    @Test func flushedPiecesAreDecodableBeforeTheEnd() throws {
        let streams = GzipStreams(level: 6)
        let encoder = try streams.take()
        let allocator = ByteBufferAllocator()
        var first = try encoder.chunk(ByteBuffer(string: "data: one\n\n"), allocator: allocator)
        first.writeImmutableBuffer(try encoder.flush(allocator: allocator))
        // After a flush, what was sent so far inflates to everything given so far, without the stream's end.
        var shim = HTTP1ResponseParserShim(first + ByteBuffer(string: "0\r\n\r\n"))
        var compressed = try shim.body()
        var partial = ByteBuffer()
        partial.reserveCapacity(4096)
        let inflater = try ZlibDecompressor(algorithm: .gzip)
        try? inflater.inflate(from: &compressed, to: &partial)
        #expect(String(buffer: partial) == "data: one\n\n")
        let rest = try encoder.finish(ByteBuffer(string: "data: two\n\n"), allocator: allocator)
        #expect(try gunzip(first + rest) == "data: one\n\ndata: two\n\n")
        // The stream went back to the pool and comes out reset.
        let again = try streams.take()
        #expect(try gunzip(try again.finish(ByteBuffer(string: "x"), allocator: allocator)) == "x")
    }
}

/// Reads a chunked body with Edge's own parser (the fixture is a chunked HTTP/1.1 response body).
struct HTTP1ResponseParserShim {
    var parser = HTTP1ResponseParser()

    init(_ chunkedBody: ByteBuffer) {
        parser.append(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        parser.append(chunkedBody)
    }

    mutating func body() throws -> ByteBuffer {
        var body = ByteBuffer()
        while let event = try parser.next() {
            switch event {
            case .head: continue
            case .body(var piece): body.writeBuffer(&piece)
            case .end: return body
            }
        }
        return body
    }
}

extension ByteBuffer {
    static func + (lhs: ByteBuffer, rhs: ByteBuffer) -> ByteBuffer {
        var joined = lhs
        joined.writeImmutableBuffer(rhs)
        return joined
    }
}
