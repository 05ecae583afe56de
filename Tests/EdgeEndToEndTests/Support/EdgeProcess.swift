import Foundation
import TestSupport

/// The real `edge` binary, started on a temp config with port 0, and stopped when the test is done.
final class EdgeProcess: @unchecked Sendable {
    let directory: TestDirectory
    let process = Process()
    let configPath: String
    private(set) var port = 0
    /// Every listener's port, in `listen` order.
    private(set) var ports: [Int] = []
    private let stderrLines = LineCollector()
    let accessLogPath: String

    /// The `edge` executable built next to this test bundle.
    static var binary: String { builtProduct("edge") }

    /// Starts edge with `configBody` (YAML after the listen and access_log keys, which this sets) and waits until
    /// it logs that it is ready. `unprivileged` runs it as `nobody`, owning `directory`, as its systemd unit does;
    /// `openFilesLimit` sets its descriptor limit (`ulimit -n`); `binary` runs another copy of the executable.
    init(
        directory: TestDirectory = TestDirectory(), listen: String = "  - address: 127.0.0.1:0",
        config configBody: String,
        accessLog: Bool = true, environment: [String: String] = [:], unprivileged: Bool = false,
        openFilesLimit: Int? = nil, binary: String = EdgeProcess.binary, arguments: [String] = [],
        readyLine: String = " ready "
    ) throws {
        self.directory = directory
        accessLogPath = directory.path + "/access.log"
        let yaml = """
            listen:
            \(listen)
            access_log: \(accessLog ? accessLogPath : "off")
            \(configBody)
            """
        configPath = directory.write("edge.yaml", yaml)
        var command =
            unprivileged
            ? try Unprivileged.command(binary, ["--config", configPath], copyingInto: directory)
            : (binary, ["--config", configPath] + arguments)
        if let openFilesLimit {
            command = ("/usr/bin/prlimit", ["--nofile=\(openFilesLimit)", "--", command.0] + command.1)
        }
        if unprivileged { try Unprivileged.handOver(directory) }
        process.executableURL = URL(fileURLWithPath: command.0)
        process.arguments = command.1
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        stderrLines.read(from: errorPipe.fileHandleForReading)
        try process.run()
        guard stderrLines.waitFor(containing: readyLine, timeout: 30) != nil else {
            process.terminate()
            throw TestFailure("edge did not become ready; stderr:\n\(stderrLines.text)")
        }
        // The port ends the line, or the message of a JSON line.
        ports = stderrLines.lines.filter { $0.contains("listening on http") }.compactMap { line in
            line.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }
        }
        guard let port = ports.first else { throw TestFailure("no listening line in:\n\(stderrLines.text)") }
        self.port = port
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Everything edge wrote to standard error so far.
    var errorLog: String { stderrLines.text }

    /// Waits for a standard-error line containing `text`.
    func waitForLog(containing text: String, timeout: TimeInterval = 10) -> String? {
        stderrLines.waitFor(containing: text, timeout: timeout)
    }

    /// Sends `signal` to the process.
    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit and returns its status, or `nil` after `timeout` seconds.
    func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        eventually(within: timeout) { !process.isRunning } ? process.terminationStatus : nil
    }

    /// Stops edge gracefully and returns the access log's lines.
    func stopAndReadAccessLog() throws -> [String] {
        signal(SIGTERM)
        guard waitForExit() == 0 else { throw TestFailure("edge did not exit 0 on TERM; stderr:\n\(errorLog)") }
        let text = (try? String(contentsOfFile: accessLogPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// A new raw connection to edge.
    func connect() throws -> RawConnection {
        try RawConnection(port: port)
    }
}
