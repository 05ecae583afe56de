import Foundation
import TestSupport
import Testing

/// The open-file cache never serves stale bytes, and large files go out whole via sendfile.
@Suite struct FreshnessAndLargeFileTests {
    let directory = TestDirectory()
    let edge: EdgeProcess
    let large: Data

    init() throws {
        directory.write("site/page.html", "version one")
        var generator = SystemRandomNumberGenerator()
        large = Data((0..<(3 * 1024 * 1024 + 17)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        directory.write("site/video.mp4", large)
        edge = try EdgeProcess(directory: directory, config: "routes: [{prefix: /media/, dir: site}]")
    }

    @Test func replacedFileIsServedAtOnce() throws {
        #expect(try get(edge.port, "/media/page.html").bodyText == "version one")
        // A deploy that writes a new file and renames it over the old one (same size, new inode).
        let staged = directory.write("site/page.html.tmp", "version two")
        #expect(rename(staged, directory.path + "/site/page.html") == 0)
        #expect(try get(edge.port, "/media/page.html").bodyText == "version two")
        // An in-place rewrite with a different size.
        directory.write("site/page.html", "version three, longer")
        #expect(try get(edge.port, "/media/page.html").bodyText == "version three, longer")
        try FileManager.default.removeItem(atPath: directory.path + "/site/page.html")
        #expect(try get(edge.port, "/media/page.html").status == 404)
    }

    @Test func largeFileArrivesWhole() throws {
        let response = try get(edge.port, "/media/video.mp4")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "video/mp4")
        #expect(response.body.count == large.count)
        #expect(Data(response.body) == large)
    }

    @Test func rangesOfALargeFile() throws {
        let middle = try get(edge.port, "/media/video.mp4", "Range: bytes=1048570-2097160")
        #expect(middle.status == 206)
        #expect(Data(middle.body) == large[1_048_570...2_097_160])
        let tail = try get(edge.port, "/media/video.mp4", "Range: bytes=-100")
        #expect(Data(tail.body) == large.suffix(100))
    }

    @Test func severalLargeResponsesPipelined() throws {
        let connection = try edge.connect()
        try connection.send(
            String(repeating: "GET /media/video.mp4 HTTP/1.1\r\nHost: x\r\n\r\n", count: 3)
                + "GET /media/page.html HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in 0..<3 { #expect(try connection.readResponse().body.count == large.count) }
        #expect(try connection.readResponse().status == 200)
    }
}
