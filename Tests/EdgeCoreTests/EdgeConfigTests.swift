import Foundation
import Shared
import TestSupport
import Testing

@testable import EdgeCore

@Suite struct EdgeConfigTests {
    private func load(_ yaml: String, in directory: TestDirectory) throws -> EdgeConfig {
        let file = directory.write("edge.yaml", yaml)
        return try EdgeConfig.load(from: file).config
    }

    private func problems(_ yaml: String, in directory: TestDirectory = TestDirectory()) -> [String] {
        do {
            _ = try load(yaml, in: directory)
            return []
        } catch let error as ConfigProblems {
            return error.problems.map { "\($0.keyPath): \($0.message)" }
        } catch {
            return ["unexpected: \(error)"]
        }
    }

    @Test func shippedExampleLoads() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let (config, warnings) = try EdgeConfig.load(from: repository.path + "/conf/edge.yaml")
        #expect(warnings.isEmpty)
        #expect(config.routes.count == 3)
        #expect(config.listen.first?.address == .tcp(host: "127.0.0.1", port: 8080))
        #expect(config.routes.filter { $0.upstream == nil }.allSatisfy { $0.dir.hasPrefix("/") })
        #expect(config.routes.last?.upstream == "app")
        #expect(config.upstreams["app"]?.servers.first == .unix(path: repository.path + "/conf/var/run/app.sock"))
    }

    @Test func fileCacheRevalidation() throws {
        let directory = TestDirectory()
        directory.makeDirectory("www")
        let config = try load("routes:\n  - {prefix: /, dir: www}\nfile_cache: {revalidate: 1s}\n", in: directory)
        #expect(config.fileCache.revalidate == .seconds(1))
        #expect(
            problems("file_cache: {revalidate: 5m}").contains { $0.hasPrefix("file_cache.revalidate: at most 60s") })
    }

    @Test func refusesBadCompressionAndTLSValues() {
        let found = problems(
            """
            compression: {gzip_level: 10, types: [html]}
            listen:
              - address: 127.0.0.1:0
                redirect_to_https: true
              - address: 127.0.0.1:0
                tls: {certificates: [], protocols: [TLSv1.1], hsts: -1}
            """)
        #expect(found.contains { $0.hasPrefix("compression.gzip_level: must be 0 (off) to 9, not 10") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("compression.types: 'html' is not a media type") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("listen[1].tls.certificates: needs at least one") }, "\(found)")
        #expect(found.contains { $0.contains("unknown TLS version 'TLSv1.1'") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("listen[1].tls.hsts:") }, "\(found)")
    }

    @Test func decodesEveryKey() throws {
        let directory = TestDirectory()
        directory.makeDirectory("www")
        let config = try load(
            """
            threads: 3
            listen:
              - address: "[::1]:0"
            limits: {max_header_size: 8KiB, max_uri_length: 2KiB, max_connections: 5, max_connections_per_ip: 3}
            timeouts: {header: 250ms, keepalive: 5s, send: 1m, shutdown: 2s}
            routes:
              - {prefix: /s/, dir: www, cache_control: "no-cache", allow: [10.0.0.0/8, "::1"], deny: [10.0.0.7]}
            access_log: logs.txt
            access_log_format: json
            """, in: directory)
        #expect(config.threads == .fixed(3))
        #expect(config.listen[0].address == .tcp(host: "::1", port: 0))
        #expect(config.limits.maxHeaderSize.bytes == 8192)
        #expect(config.limits.maxURILength.bytes == 2048)
        #expect(config.limits.maxConnections == 5)
        #expect(config.limits.maxConnectionsPerIP == 3)
        #expect(config.timeouts.header.milliseconds == 250)
        #expect(config.timeouts.send.milliseconds == 60_000)
        #expect(config.routes[0].dir == directory.path + "/www")
        #expect(config.routes[0].cacheControl == "no-cache")
        #expect(config.routes[0].access.allow.map(\.description) == ["10.0.0.0/8", "0:0:0:0:0:0:0:1/128"])
        #expect(config.routes[0].access.deny.map(\.description) == ["10.0.0.7/32"])
        #expect(config.accessLog == .file(directory.path + "/logs.txt"))
        #expect(config.accessLogFormat == .json)
    }

    @Test func reportsEveryProblemOnItsOwnLine() {
        let found = problems(
            """
            threads: zero
            listen:
              - address: nowhere
            limits: {max_header_size: lots, max_uri_lenght: 1KiB, max_connections_per_ip: -1}
            timeouts: {header: soon}
            routes:
              - {prefix: /s/, dir: does-not-exist}
              - {prefix: nope, allow: [10.0.0.0/33]}
            access_log_format: xml
            """)
        #expect(found.contains("threads: must be auto or a number above 0"))
        #expect(found.contains { $0.hasPrefix("listen[0].address: invalid address 'nowhere'") })
        #expect(found.contains { $0.hasPrefix("limits.max_header_size: invalid size 'lots'") })
        #expect(found.contains("limits.max_uri_lenght: unknown key 'max_uri_lenght' (did you mean 'max_uri_length'?)"))
        #expect(found.contains("limits.max_connections_per_ip: must be 0 (unlimited) or more"))
        #expect(found.contains { $0.hasPrefix("timeouts.header: invalid duration 'soon'") })
        #expect(found.contains { $0.hasPrefix("routes[0].dir: directory ") && $0.hasSuffix("does not exist") })
        #expect(found.contains("routes[1].prefix: must start with '/', not 'nope'"))
        #expect(
            found.contains(
                "routes[1].allow[0]: invalid address range '10.0.0.0/33' (expected an address, a CIDR range or all)"))
        #expect(found.contains("routes[1]: missing required key 'dir' (or 'upstream')"))
        #expect(found.contains("access_log_format: unknown format 'xml' (expected combined or json)"))
    }

    @Test func refusesUnwritableAccessLogAndFileAsDir() {
        let directory = TestDirectory()
        directory.write("plain.txt", "x")
        let found = problems(
            """
            routes: [{prefix: /, dir: plain.txt}]
            access_log: /nonexistent-dir/edge.log
            """, in: directory)
        #expect(found.contains { $0.hasPrefix("routes[0].dir:") && $0.hasSuffix("is not a directory") })
        #expect(found.contains { $0.hasPrefix("access_log: cannot create /nonexistent-dir/edge.log") })
    }

    @Test func refusesDuplicates() {
        let directory = TestDirectory()
        directory.makeDirectory("a")
        let found = problems(
            """
            listen: [{address: "127.0.0.1:1"}, {address: "127.0.0.1:1"}]
            routes: [{prefix: /, dir: a}, {prefix: /, dir: a}]
            """, in: directory)
        #expect(found.contains("listen[1].address: address 127.0.0.1:1 is listed twice"))
        #expect(found.contains("routes[1].prefix: prefix '/' is listed twice"))
    }

    @Test func missingFileIsOneClearLine() {
        do {
            _ = try EdgeConfig.load(from: "/nonexistent/edge.yaml")
            Issue.record("expected failure")
        } catch let error as ConfigProblems {
            #expect(error.problems.count == 1)
            #expect(error.description.hasPrefix("/nonexistent/edge.yaml: cannot read file"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func offIsAcceptedQuotedOrAsFalse() throws {
        let directory = TestDirectory()
        #expect(try load("access_log: off", in: directory).accessLog == .off)
        #expect(try load("access_log: \"off\"", in: directory).accessLog == .off)
        #expect(try load("access_log: false", in: directory).accessLog == .off)
    }
}
