import Shared
import Testing

@testable import EdgeCore

@Suite struct ByteRangeTests {
    @Test(arguments: [
        ("bytes=0-99", RangeDecision.partial(offset: 0, length: 100)),
        ("bytes=100-", .partial(offset: 100, length: 900)),
        ("bytes=-100", .partial(offset: 900, length: 100)),
        ("bytes=-5000", .partial(offset: 0, length: 1000)),
        ("bytes=990-5000", .partial(offset: 990, length: 10)),
        ("bytes=999-999", .partial(offset: 999, length: 1)),
        ("BYTES=0-0", .partial(offset: 0, length: 1)),
        ("bytes=1000-", .unsatisfiable),
        ("bytes=5000-6000", .unsatisfiable),
        ("bytes=-0", .unsatisfiable),
        ("bytes=99999999999999999999999-", .unsatisfiable),
        ("bytes=0-1,5-6", .full),
        ("bytes=5-1", .full),
        ("bytes=a-b", .full),
        ("items=0-1", .full),
        ("bytes=", .full),
    ])
    func decides(header: String, expected: RangeDecision) {
        #expect(ByteRange.decide(header[...], size: 1000) == expected)
    }

    @Test func noHeaderMeansFull() {
        #expect(ByteRange.decide(nil, size: 10) == .full)
    }

    @Test func emptyFileHasNoSatisfiableRange() {
        #expect(ByteRange.decide("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.decide("bytes=-1", size: 0) == .unsatisfiable)
    }
}

@Suite struct ConditionalRequestTests {
    let validators = Validators(etag: "\"abc-10\"", lastModified: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    private func evaluate(_ headers: ConditionalRequest.Headers) -> PreconditionResult {
        ConditionalRequest.evaluate(headers, validators: validators)
    }

    @Test func ifNoneMatch() {
        #expect(evaluate(.init(ifNoneMatch: "\"abc-10\"")) == .notModified)
        #expect(evaluate(.init(ifNoneMatch: "W/\"abc-10\"")) == .notModified)
        #expect(evaluate(.init(ifNoneMatch: "\"x\", \"abc-10\"")) == .notModified)
        #expect(evaluate(.init(ifNoneMatch: "*")) == .notModified)
        #expect(evaluate(.init(ifNoneMatch: "\"other\"")) == .proceed)
    }

    @Test func ifNoneMatchWinsOverIfModifiedSince() {
        let headers = ConditionalRequest.Headers(
            ifNoneMatch: "\"other\"", ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(evaluate(headers) == .proceed)
    }

    @Test func ifModifiedSince() {
        #expect(evaluate(.init(ifModifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT")) == .notModified)
        #expect(evaluate(.init(ifModifiedSince: "Mon, 07 Nov 1994 08:49:37 GMT")) == .notModified)
        #expect(evaluate(.init(ifModifiedSince: "Sat, 05 Nov 1994 08:49:37 GMT")) == .proceed)
        #expect(evaluate(.init(ifModifiedSince: "not a date")) == .proceed)
    }

    @Test func ifMatchAndIfUnmodifiedSince() {
        #expect(evaluate(.init(ifMatch: "\"abc-10\"")) == .proceed)
        #expect(evaluate(.init(ifMatch: "W/\"abc-10\"")) == .preconditionFailed)
        #expect(evaluate(.init(ifMatch: "\"nope\"")) == .preconditionFailed)
        #expect(evaluate(.init(ifUnmodifiedSince: "Sat, 05 Nov 1994 08:49:37 GMT")) == .preconditionFailed)
        #expect(evaluate(.init(ifUnmodifiedSince: "Sun, 06 Nov 1994 08:49:37 GMT")) == .proceed)
    }

    @Test func ifRange() {
        #expect(ConditionalRequest.rangeAllowed(ifRange: nil, validators: validators))
        #expect(ConditionalRequest.rangeAllowed(ifRange: "\"abc-10\"", validators: validators))
        #expect(!ConditionalRequest.rangeAllowed(ifRange: "\"old\"", validators: validators))
        #expect(!ConditionalRequest.rangeAllowed(ifRange: "W/\"abc-10\"", validators: validators))
        #expect(ConditionalRequest.rangeAllowed(ifRange: "Sun, 06 Nov 1994 08:49:37 GMT", validators: validators))
        #expect(!ConditionalRequest.rangeAllowed(ifRange: "Sun, 06 Nov 1994 08:49:38 GMT", validators: validators))
    }
}

@Suite struct MediaTypesTests {
    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"), ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"), ("a.mjs", "text/javascript; charset=utf-8"),
        ("a.json", "application/json; charset=utf-8"), ("a.svg", "image/svg+xml; charset=utf-8"),
        ("a.PNG", "image/png"), ("a.jpg", "image/jpeg"), ("a.gif", "image/gif"), ("a.webp", "image/webp"),
        ("a.avif", "image/avif"), ("favicon.ico", "image/x-icon"), ("a.woff", "font/woff"), ("a.woff2", "font/woff2"),
        ("a.ttf", "font/ttf"), ("a.mp4", "video/mp4"), ("a.webm", "video/webm"), ("a.mp3", "audio/mpeg"),
        ("a.pdf", "application/pdf"), ("a.wasm", "application/wasm"), ("a.txt", "text/plain; charset=utf-8"),
        ("a.xml", "application/xml; charset=utf-8"), ("a.js.map", "application/json; charset=utf-8"),
        ("README", "application/octet-stream"), ("a.unknown", "application/octet-stream"),
    ])
    func contentTypes(name: String, expected: String) {
        #expect(MediaTypes.contentType(forFileName: name[...]) == expected)
    }
}
