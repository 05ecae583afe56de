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
        file = CachedFile(path: path, identity: identity, contentType: "text/plain", cacheControl: nil, contents: ByteBuffer(string: "hello"))
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
        let onDisk = CachedFile(path: file.path, identity: file.identity, contentType: "text/plain", cacheControl: nil, contents: nil)
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
