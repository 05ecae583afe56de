import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// File bodies produced on the event loop (gzipped on the way out here; read out over TLS likewise) take turns with the
/// loop's other connections.
@Suite struct LoopFairnessTests {
    @Test func aGzippedDownloadThatNeverWaitsDoesNotHoldUpOtherClientsOfItsLoop() throws {
        let directory = TestDirectory()
        // 8 GiB of zeros that take no disk (a sparse file): gzipped, they shrink so far that the send never waits
        // for its socket, and they would keep Edge busy for far longer than this test runs. So the outcome does not
        // depend on how fast the test's own threads get scheduled.
        let zeros = directory.write("site/zeros.txt", Data())
        #expect(truncate(zeros, 8 << 30) == 0)
        directory.write("site/small.txt", "small")
        let edge = try EdgeProcess(
            directory: directory,
            config: """
                threads: 1
                routes:
                  - {prefix: /, dir: site}
                compression: {gzip_level: 1}
                """)
        let large = try edge.connect()
        try large.send("GET /zeros.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        _ = try large.readAvailable()  // the download is under way
        let download = Download()
        // Read as fast as it comes, until Edge goes away at the end of the test.
        DispatchQueue.global().async { download.drain(large) }

        // On the same (only) event loop: answered in a turn of the large send. Without turns it would wait for the
        // whole file, and this read would time out.
        let small = try get(edge.port, "/small.txt")
        #expect(small.bodyText == "small")
        #expect(!download.isFinished)
    }
}

/// A download read on another thread, its bytes discarded.
private final class Download: @unchecked Sendable {
    private let lock = NSLock()
    private var finished = false

    var isFinished: Bool { lock.withLock { finished } }

    func drain(_ connection: RawConnection) {
        while let piece = try? connection.readAvailable(), !piece.isEmpty {}
        lock.withLock { finished = true }
    }
}
