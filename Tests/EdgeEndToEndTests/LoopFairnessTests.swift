import Foundation
import TestSupport
import Testing

/// File bodies produced on the event loop (gzipped on the way out here; read out over TLS likewise) take turns with the
/// loop's other connections.
@Suite struct LoopFairnessTests {
    @Test func aLargeGzippedDownloadDoesNotHoldUpOtherClientsOfItsLoop() throws {
        let directory = TestDirectory()
        // About 15 MB of varied text: a quarter of a second of deflate or more, for a client that takes every byte
        // as soon as it is made, so the send never has to wait for its socket.
        let lines = (0..<500_000).map { "line \($0): value \($0 &* 2_654_435_761 % 1_000_003)\n" }
        directory.write("site/large.txt", lines.joined())
        directory.write("site/small.txt", "small")
        let edge = try EdgeProcess(
            directory: directory,
            config: """
                threads: 1
                routes:
                  - {prefix: /, dir: site}
                compression: {gzip_level: 6}
                """)
        let large = try edge.connect()
        try large.send("GET /large.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        _ = try large.readAvailable()  // the download is under way
        let download = Download()
        DispatchQueue.global().async {
            download.finish { try large.readBytes { $0.ends(with: "\r\n0\r\n\r\n") }.count }
        }

        // On the same (only) event loop: answered in a turn of the large send, not after its last byte.
        let small = try get(edge.port, "/small.txt")
        #expect(small.bodyText == "small")
        #expect(!download.isFinished, "the small file waited for the large download to end")
        #expect(download.waitForEnd() > 1_000_000)
    }
}

/// A download read to its end on another thread.
private final class Download: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: Int?
    private let ended = DispatchSemaphore(value: 0)

    var isFinished: Bool { lock.withLock { bytes != nil } }

    func finish(_ read: () throws -> Int) {
        let count = (try? read()) ?? 0
        lock.withLock { bytes = count }
        ended.signal()
    }

    /// The bytes read, once the download ended (0 if it failed).
    func waitForEnd() -> Int {
        _ = ended.wait(timeout: .now() + 60)
        return lock.withLock { bytes ?? 0 }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with text: String) -> Bool {
        let tail = Array(text.utf8)
        return count >= tail.count && self[(count - tail.count)...].elementsEqual(tail)
    }
}
