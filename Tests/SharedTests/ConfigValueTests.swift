import Testing

@testable import Shared

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("512", 512), ("16KiB", 16384), ("16k", 16384), ("100MiB", 100 << 20), ("1GiB", 1 << 30), ("2 MB", 2 << 20),
    ])
    func parsesSizes(text: String, bytes: Int) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "KiB", "12XB", "-5", "1.5MiB", "99999999999999999999GiB"])
    func rejectsNonSizes(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    @Test func describesInLargestExactUnit() {
        #expect(ByteSize(bytes: 16384).description == "16KiB")
        #expect(ByteSize(bytes: 1000).description == "1000")
    }
}

@Suite struct ConfigDurationTests {
    @Test(arguments: [("250ms", 250), ("10s", 10_000), ("5m", 300_000), ("1h", 3_600_000), ("30", 30_000)])
    func parsesDurations(text: String, milliseconds: Int64) {
        #expect(ConfigDuration(parsing: text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "s", "10 parsecs", "1d", "-1s"])
    func rejectsNonDurations(text: String) {
        #expect(ConfigDuration(parsing: text) == nil)
    }
}

@Suite struct BindAddressTests {
    @Test func parsesForms() throws {
        #expect(try BindAddress(parsing: "127.0.0.1:8080") == .tcp(host: "127.0.0.1", port: 8080))
        #expect(try BindAddress(parsing: "[::1]:443") == .tcp(host: "::1", port: 443))
        #expect(try BindAddress(parsing: "*:80") == .tcp(host: "0.0.0.0", port: 80))
        #expect(try BindAddress(parsing: ":0") == .tcp(host: "0.0.0.0", port: 0))
        #expect(try BindAddress(parsing: "unix:/run/app.sock") == .unix(path: "/run/app.sock"))
    }

    /// Edge's IPv6 listeners take IPv6 only (nginx's `ipv6only=on`), so `*:443` and `[::]:443` bind side by side.
    @Test func knowsItsIPv6Addresses() throws {
        #expect(try BindAddress(parsing: "[::]:443").isIPv6)
        #expect(try BindAddress(parsing: "[::1]:0").isIPv6)
        #expect(try !BindAddress(parsing: "*:443").isIPv6)
        #expect(try !BindAddress(parsing: "127.0.0.1:443").isIPv6)
        #expect(try !BindAddress(parsing: "unix:/run/edge.sock").isIPv6)
    }

    @Test(arguments: ["8080", "127.0.0.1:99999", "127.0.0.1:http", "example.com:80", "unix:", "[::1]8080"])
    func rejectsBadAddresses(text: String) {
        #expect(throws: ConfigValueError.self) { try BindAddress(parsing: text) }
    }

    @Test func errorNamesTheAddress() {
        do {
            _ = try BindAddress(parsing: "127.0.0.1:99999")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("127.0.0.1:99999"))
            #expect("\(error)".contains("port"))
        }
    }
}

@Suite struct LogDestinationTests {
    struct Holder: Decodable { var log: LogDestination }

    @Test func decodesDashPathAndOff() throws {
        let diagnostics = ConfigDiagnostics(file: "t.yaml")
        #expect(
            try ConfigFile.decode(Holder.self, from: "log: \"-\"", diagnostics: diagnostics).value.log
                == .standardOutput)
        #expect(try ConfigFile.decode(Holder.self, from: "log: off", diagnostics: diagnostics).value.log == .off)
        #expect(try ConfigFile.decode(Holder.self, from: "log: \"off\"", diagnostics: diagnostics).value.log == .off)
        #expect(
            try ConfigFile.decode(Holder.self, from: "log: a.log", diagnostics: diagnostics).value.log == .file("a.log")
        )
    }

    @Test func resolvesRelativePathsAgainstConfigDirectory() {
        #expect(
            LogDestination.file("logs/a.log").resolved(relativeTo: "/etc/edge/edge.yaml")
                == .file("/etc/edge/logs/a.log"))
        #expect(LogDestination.file("/var/a.log").resolved(relativeTo: "/etc/edge/edge.yaml") == .file("/var/a.log"))
    }
}
