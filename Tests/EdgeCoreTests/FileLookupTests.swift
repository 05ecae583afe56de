import Foundation
import NIOCore
import Shared
import TestSupport
import Testing

@testable import EdgeCore

@Suite struct FileLookupTests {
    let root = TestDirectory()
    let outside = TestDirectory()
    let lookup = FileLookup(inMemoryLimit: 16)

    private func find(_ relative: String, directory: Bool = false) -> FileLookupResult {
        let real = FileLookup.realPath(root.path)!
        return lookup.lookup(
            relativePath: relative[...], root: root.path, rootRealPath: real, wantsDirectory: directory,
            cacheControl: nil)
    }

    @Test func findsFilesAndKeepsSmallOnesInMemory() {
        root.write("a.txt", "hello")
        root.write("big.bin", String(repeating: "x", count: 100))
        guard case .file(let small) = find("a.txt"), case .file(let big) = find("big.bin") else {
            Issue.record("files not found")
            return
        }
        #expect(small.contents.map { String(buffer: $0) } == "hello")
        #expect(small.contentType == "text/plain; charset=utf-8")
        #expect(big.contents == nil)
        #expect(big.identity.size == 100)
    }

    @Test func directoriesServeIndexOrRedirectOrNotFound() {
        root.write("docs/index.html", "<p>")
        root.makeDirectory("empty")
        guard case .file(let index) = find("docs/", directory: true) else {
            Issue.record("index not served")
            return
        }
        #expect(index.path.hasSuffix("docs/index.html"))
        #expect(index.contentType.hasPrefix("text/html"))
        guard case .directoryWithoutSlash = find("docs") else {
            Issue.record("no redirect")
            return
        }
        guard case .notFound = find("empty/", directory: true) else {
            Issue.record("listing instead of 404")
            return
        }
    }

    /// Only a missing file is a 404 and only a permission error a 403: anything else (out of descriptors, an I/O
    /// error) is the server's failure, a 500 that a CDN does not keep as the answer about the file.
    @Test func failuresThatAreNotTheFilesAreNotA404() {
        for (code, expected) in [
            (ENOENT, "notFound"), (ENOTDIR, "notFound"), (EACCES, "forbidden"), (EMFILE, "failed"), (EIO, "failed"),
        ] {
            let kind: String
            switch FileLookupResult.failure(Errno(code), at: "/x") {
            case .notFound: kind = "notFound"
            case .forbidden: kind = "forbidden"
            case .failed(let reason):
                kind = "failed"
                #expect(reason.hasPrefix("/x: "))
            case .file, .directoryWithoutSlash: kind = "other"
            }
            #expect(kind == expected, "errno \(code)")
        }
    }

    @Test func refusesSymlinksOutOfTheDirectory() throws {
        let secret = outside.write("secret.txt", "secret")
        try FileManager.default.createSymbolicLink(atPath: root.path + "/leak.txt", withDestinationPath: secret)
        try FileManager.default.createSymbolicLink(atPath: root.path + "/leakdir", withDestinationPath: outside.path)
        root.write("real.txt", "fine")
        try FileManager.default.createSymbolicLink(
            atPath: root.path + "/alias.txt", withDestinationPath: root.path + "/real.txt")
        guard case .notFound(let reason) = find("leak.txt") else {
            Issue.record("symlink out of root was served")
            return
        }
        #expect(reason.contains("outside"))
        guard case .notFound = find("leakdir/secret.txt") else {
            Issue.record("directory symlink out of root was served")
            return
        }
        guard case .file = find("alias.txt") else {
            Issue.record("symlink inside root refused")
            return
        }
    }

    @Test func specialFilesAreNotServed() {
        let fifo = root.path + "/pipe"
        #expect(mkfifo(fifo, 0o644) == 0)
        guard case .notFound = find("pipe") else {
            Issue.record("FIFO served")
            return
        }
    }
}

@Suite struct OpenFileCacheTests {
    @Test func noticesReplacedAndChangedFiles() throws {
        let root = TestDirectory()
        let path = root.write("a.txt", "one")
        let cache = OpenFileCache()
        let lookup = FileLookup()
        guard
            case .file(let first) = lookup.lookup(
                relativePath: "a.txt", root: root.path, rootRealPath: FileLookup.realPath(root.path)!,
                wantsDirectory: false,
                cacheControl: nil)
        else {
            Issue.record("not found")
            return
        }
        cache.insert(first, for: "/a.txt")
        #expect(cache.validEntry(for: "/a.txt") === first)

        // Replace via rename, as deploy tools do: same size, new inode.
        let replacement = root.write("a.txt.new", "two")
        #expect(rename(replacement, path) == 0)
        #expect(cache.validEntry(for: "/a.txt") == nil)

        cache.insert(first, for: "/a.txt")
        try FileManager.default.removeItem(atPath: path)
        #expect(cache.validEntry(for: "/a.txt") == nil)
    }

    @Test func withARevalidationIntervalTheDiskIsCheckedOncePerInterval() throws {
        let root = TestDirectory()
        let path = root.write("a.txt", "one")
        var clock: UInt64 = 1_000_000_000
        let cache = OpenFileCache(revalidateAfterNanoseconds: 1_000_000_000, now: { clock })
        guard
            case .file(let first) = FileLookup().lookup(
                relativePath: "a.txt", root: root.path, rootRealPath: FileLookup.realPath(root.path)!,
                wantsDirectory: false,
                cacheControl: nil)
        else {
            Issue.record("not found")
            return
        }
        cache.insert(first, for: "/a.txt")
        #expect(rename(root.write("a.txt.new", "two"), path) == 0)
        clock += 999_000_000
        #expect(cache.validEntry(for: "/a.txt") === first)  // trusted for the interval, like open_file_cache_valid
        clock += 1_000_000
        #expect(cache.validEntry(for: "/a.txt") == nil)  // checked again: the replacement is noticed
    }

    @Test func evictsLeastRecentlyUsed() {
        let root = TestDirectory()
        let cache = OpenFileCache(maxEntries: 4)
        let lookup = FileLookup()
        for index in 0..<5 {
            root.write("f\(index)", "\(index)")
            if case .file(let file) = lookup.lookup(
                relativePath: "f\(index)"[...], root: root.path, rootRealPath: FileLookup.realPath(root.path)!,
                wantsDirectory: false, cacheControl: nil)
            {
                cache.insert(file, for: "/f\(index)")
                if index == 0 { cache.insert(file, for: "/f0") }
                _ = cache.validEntry(for: "/f0")  // keep f0 hot
            }
        }
        #expect(cache.count <= 4)
        #expect(cache.validEntry(for: "/f0") != nil)
    }

    @Test func anEntryThatLeavesTheCacheSaysSoToLinksKeptToIt() {
        // A file keeps a strong link to its precompressed variant and trusts it only while `cacheKey` is set.
        let root = TestDirectory()
        let cache = OpenFileCache(maxEntries: 2)
        let lookup = FileLookup()
        var files: [CachedFile] = []
        for index in 0..<3 {
            root.write("f\(index)", "\(index)")
            if case .file(let file) = lookup.lookup(
                relativePath: "f\(index)"[...], root: root.path, rootRealPath: FileLookup.realPath(root.path)!,
                wantsDirectory: false, cacheControl: nil)
            {
                cache.insert(file, for: "/f\(index)")
                files.append(file)
            }
        }
        #expect(files[0].cacheKey == nil)  // evicted when the third came in
        #expect(files[2].cacheKey == "/f2")
        guard
            case .file(let replacement) = lookup.lookup(
                relativePath: "f2"[...], root: root.path, rootRealPath: FileLookup.realPath(root.path)!,
                wantsDirectory: false,
                cacheControl: nil)
        else { return }
        cache.insert(replacement, for: "/f2")  // replacing an entry also lets go of the old one
        #expect(files[2].cacheKey == nil)
        #expect(replacement.cacheKey == "/f2")
    }
}

/// `compression.precompressed` with a revalidation interval: whether `file.gz` exists is checked as a cached file
/// is, once per interval, not on every request.
@Suite struct PrecompressedVariantLookupTests {
    let root = TestDirectory()
    let gzipRequest: RequestHeaderFacts = {
        var parser = HTTP1RequestParser(limits: .init(maxURILength: 1024, maxHeaderSize: 4096))
        parser.append(ByteBuffer(string: "GET /page.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"))
        guard case .head(let head)? = try? parser.next() else { fatalError("request did not parse") }
        return RequestHeaderFacts(head.headers)
    }()

    /// Whether the site answered `/page.html` with the precompressed variant.
    private func servesVariant(_ site: StaticSite, cache: OpenFileCache) -> Bool {
        let response = site.respond(method: .GET, uri: "/page.html", facts: gzipRequest, cache: cache).response
        return String(buffer: response.head).contains("Content-Encoding: gzip\r\n")
    }

    @Test func aMissingVariantIsLookedForOncePerInterval() {
        root.write("page.html", String(repeating: "<p>hello</p>\n", count: 100))
        var clock: UInt64 = 1_000_000_000
        let cache = OpenFileCache(revalidateAfterNanoseconds: 1_000_000_000, now: { clock })
        let site = StaticSite(routes: [RouteConfig(prefix: "/", dir: root.path)], precompressed: true)
        #expect(!servesVariant(site, cache: cache))

        root.write("page.html.gz", "(the bytes are sent as they are)")
        clock += 999_000_000
        #expect(!servesVariant(site, cache: cache))  // "no page.html.gz" is trusted for the interval
        clock += 1_000_000
        #expect(servesVariant(site, cache: cache))  // looked again: the new variant is served
    }

    @Test func withoutAnIntervalEveryRequestLooks() {
        root.write("page.html", String(repeating: "<p>hello</p>\n", count: 100))
        let cache = OpenFileCache(revalidateAfterNanoseconds: 0, now: { 1_000_000_000 })
        let site = StaticSite(routes: [RouteConfig(prefix: "/", dir: root.path)], precompressed: true)
        #expect(!servesVariant(site, cache: cache))
        root.write("page.html.gz", "(the bytes are sent as they are)")
        #expect(servesVariant(site, cache: cache))
    }
}
