import NIOCore
import Shared
import TestSupport
import Testing

@testable import EdgeCore

/// A small file's ready-made response: exactly what the writer would have built, made again when the `Date`
/// changes, and never used for a response something has changed.
@Suite struct WholeResponseTests {
    let file: CachedFile

    init() throws {
        let directory = TestDirectory()
        let path = directory.write("a.txt", "hello")
        guard case .success(let identity) = FileIdentity.of(path: path) else { throw TestFailure("stat \(path)") }
        file = CachedFile(
            path: path, identity: identity, contentType: "text/plain", cacheControl: nil,
            contents: ByteBuffer(string: "hello"))
    }

    private func text(_ buffer: ByteBuffer?) -> String? { buffer.map { String(buffer: $0) } }

    @Test func isTheHeadTheDateTheBlankLineAndTheContents() throws {
        let date = ByteBuffer(string: "Date: Wed, 02 Dec 2026 15:00:00 GMT\r\n")
        let whole = try #require(text(file.wholeResponse(dateLine: date)))
        #expect(whole == String(buffer: file.fullResponseHead) + "Date: Wed, 02 Dec 2026 15:00:00 GMT\r\n\r\nhello")
        #expect(whole.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(whole.contains("Content-Length: 5\r\n"))
    }

    @Test func followsTheDate() {
        let first = file.wholeResponse(dateLine: ByteBuffer(string: "Date: Wed, 02 Dec 2026 15:00:00 GMT\r\n"))
        let again = file.wholeResponse(dateLine: ByteBuffer(string: "Date: Wed, 02 Dec 2026 15:00:00 GMT\r\n"))
        let next = file.wholeResponse(dateLine: ByteBuffer(string: "Date: Wed, 02 Dec 2026 15:00:01 GMT\r\n"))
        #expect(text(again) == text(first))
        #expect(text(next)?.contains("Date: Wed, 02 Dec 2026 15:00:01 GMT\r\n\r\nhello") == true)
        // The earlier bytes stay as they were for a write still holding them.
        #expect(text(first)?.contains("15:00:00 GMT") == true)
    }

    @Test func filesServedFromDiskHaveNone() throws {
        let onDisk = CachedFile(
            path: file.path, identity: file.identity, contentType: "text/plain", cacheControl: nil, contents: nil)
        #expect(onDisk.wholeResponse(dateLine: ByteBuffer(string: "Date: x\r\n")) == nil)
    }

    @Test func anyChangeToTheResponseLetsGoOfTheFile() {
        let untouched = Response.whole(file, contents: file.contents!)
        #expect(untouched.wholeFile === file)
        var newHead = untouched
        newHead.head.writeStaticString("Vary: Accept-Encoding\r\n")
        #expect(newHead.wholeFile == nil)
        var newBody = untouched
        newBody.body = .memory(ByteBuffer(string: "gzipped"))
        #expect(newBody.wholeFile == nil)
    }
}

/// The compression filter's output kept with a small cached file: charged to the cache's memory budget while the
/// file is cached, and given back with it.
@Suite struct KeptGzipTests {
    @Test func isChargedWhileItsFileIsCachedAndGoesWithIt() throws {
        let directory = TestDirectory()
        let path = directory.write("a.css", "body{}")
        guard case .success(let identity) = FileIdentity.of(path: path) else { throw TestFailure("stat \(path)") }
        func version() -> CachedFile {
            CachedFile(
                path: path, identity: identity, contentType: "text/css", cacheControl: nil,
                contents: ByteBuffer(string: "body{}"))
        }
        func gzipped(_ file: CachedFile) -> CachedFile {
            CachedFile(filtering: file, head: ByteBuffer(string: "HTTP/1.1 200 OK\r\n"), body: ByteBuffer(string: "gz"))
        }
        let cache = OpenFileCache()
        let file = version()
        cache.insert(file, for: "/a.css")
        let copy = gzipped(file)
        cache.keep(copy, in: \.gzipped, of: file)
        #expect(file.gzipped === copy)
        #expect(cache.memoryInUse == file.memoryCost + copy.memoryCost)

        // Kept again: the earlier copy's memory is given back first.
        let other = gzipped(file)
        cache.keep(other, in: \.gzipped, of: file)
        #expect(cache.memoryInUse == file.memoryCost + other.memoryCost)

        // The answer for clients without gzip has a slot of its own, charged the same way.
        let varied = gzipped(file)
        cache.keep(varied, in: \.varied, of: file)
        #expect(file.varied === varied && file.gzipped === other)
        #expect(cache.memoryInUse == file.memoryCost + other.memoryCost + varied.memoryCost)

        // A newer version replaces the file: the memory of all three goes.
        let newer = version()
        cache.insert(newer, for: "/a.css")
        #expect(cache.memoryInUse == newer.memoryCost)

        // The replaced file, no longer cached, gets no copy and charges nothing.
        cache.keep(gzipped(file), in: \.gzipped, of: file)
        #expect(file.gzipped === other)
        #expect(cache.memoryInUse == newer.memoryCost)
    }
}
