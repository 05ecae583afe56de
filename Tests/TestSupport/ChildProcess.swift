import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process started for a test and stopped (TERM, then KILL) when the last reference goes, so no test leaves
/// servers running behind it.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()

    /// Starts `executable` with `arguments`, its standard error collected into `log`.
    public init(_ executable: String, _ arguments: [String], log: LineCollector) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        log.read(from: pipe.fileHandleForReading)
        try process.run()
    }

    deinit {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        eventually(within: 5) { !process.isRunning }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Runs `executable` to completion and returns its exit status and everything it printed (stdout and stderr).
public func runToCompletion(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The path of the executable product `name` built alongside the running test bundle.
public func builtProduct(_ name: String) -> String {
    let selfPath =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var directory = URL(fileURLWithPath: selfPath).deletingLastPathComponent()
    // The test runner may sit inside a bundle directory; walk up until the build products are found.
    for _ in 0..<4 where !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent(name).path) {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent(name).path
}
