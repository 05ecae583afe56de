import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Edge out of file descriptors: it says so, neither spins nor answers 404 for files it has, and serves again
/// once descriptors free up.
@Suite struct ResourceExhaustionTests {
    @Test func runningOutOfDescriptorsPausesAcceptsAnswers500AndRecovers() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        let edge = try EdgeProcess(
            directory: directory, config: "threads: 1\nroutes: [{prefix: /, dir: site}]", openFilesLimit: 48)

        // More connections than descriptors: Edge accepts until it has none left, the rest wait in the backlog.
        let connections = try (0..<80).map { _ in try edge.connect() }
        #expect(edge.waitForLog(containing: "cannot accept connections; pausing accepts") != nil, "\(edge.errorLog)")

        // The paused listener does not spin: a listener left registered would retry accept on one CPU for ever.
        // (A bound on CPU use while idle, not on speed: a spinning Edge uses the whole second.)
        let before = try cpuSeconds(of: edge.process.processIdentifier)
        Thread.sleep(forTimeInterval: 1)
        #expect(try cpuSeconds(of: edge.process.processIdentifier) - before < 0.5)

        // A file Edge cannot open for want of descriptors is its failure, not a missing file.
        try connections[0].send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connections[0].readResponse().status == 500)
        #expect(edge.waitForLog(containing: "cannot serve file") != nil)

        for connection in connections { connection.close() }
        let fresh = try edge.connect()
        try fresh.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try fresh.readResponse().bodyText == "alpha")
    }

    /// User plus system CPU time of `pid` so far (clock ticks of 1/100 s).
    private func cpuSeconds(of pid: Int32) throws -> Double {
        let fields = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8).split(separator: ")").last!.split(
            separator: " ")
        // After "pid (comm)", field 3 is the state; utime and stime are fields 14 and 15.
        return Double(Int(fields[11])! + Int(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

@Suite struct FullDiskTests {
    /// A full disk under the access log: requests are still served, and the lost lines are reported, at most once
    /// a second, in the error log.
    @Test func anAccessLogThatCannotBeWrittenIsReportedAndServingGoesOn() throws {
        let directory = TestDirectory()
        directory.write("site/a.txt", "alpha")
        try FileManager.default.createSymbolicLink(
            atPath: directory.path + "/access.log", withDestinationPath: "/dev/full")
        let edge = try EdgeProcess(directory: directory, config: "routes: [{prefix: /, dir: site}]")
        let connection = try edge.connect()
        for _ in 0..<3 {
            try connection.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try connection.readResponse().bodyText == "alpha")
        }
        let line = edge.waitForLog(containing: "cannot write the access log")
        #expect(line?.contains("No space left on device") == true, "\(edge.errorLog)")
        #expect(line?.contains("log=\(directory.path)/access.log") == true)
    }
}
