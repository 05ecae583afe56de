import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A swift-log handler that writes one line per message to standard error, as text:
/// `2026-11-22T03:08:30.123Z info edge: listening address=127.0.0.1:8080`,
/// or as one JSON object (`log_format: json`):
/// `{"ts":"2026-11-22T03:08:30.123Z","level":"info","logger":"edge","msg":"listening","address":"127.0.0.1:8080"}`.
///
/// One line per event keeps the output readable in a terminal and parseable by journald and grep; the JSON form is
/// for Loki, Elasticsearch and `journalctl -o cat | jq`. Metadata fields become keys of the object; one named like
/// the object's own keys (`ts`, `level`, `logger`, `msg`, `error`) is written as `field.NAME`.
public struct LineLogHandler: LogHandler {
    private static let writeLock = NIOLock()
    private static let reservedKeys: Set<String> = ["ts", "level", "logger", "msg", "error"]

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: LogFormat

    /// A handler for `label` that drops messages below `level`.
    public init(label: String, level: Logger.Level, format: LogFormat = .text) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    /// Makes every `Logger` in the process use this handler at `level`, writing `format`.
    public static func bootstrap(level: Logger.Level, format: LogFormat = .text) {
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, format: format) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = self.line(for: event, at: Self.timestamp())
        // One write(2) per line under a lock: lines from different threads never interleave.
        Self.writeLock.withLock {
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                    if written <= 0 { if errno == EINTR { continue } else { return } }
                    offset += written
                }
            }
        }
    }

    /// The line `event` is written as, newline included.
    func line(for event: LogEvent, at timestamp: String) -> String {
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        let fields = merged.sorted(by: { $0.key < $1.key }).map { ($0.key, "\($0.value)") }
        switch format {
        case .text:
            var text = "\(timestamp) \(event.level) \(label): \(event.message)"
            for (key, value) in fields { text += " \(key)=\(Self.quoteIfNeeded(value))" }
            if let error = event.error { text += " error=\(Self.quoteIfNeeded("\(error)"))" }
            return text + "\n"
        case .json:
            var buffer = ByteBuffer()
            var pairs = [
                ("ts", timestamp), ("level", "\(event.level)"), ("logger", label), ("msg", "\(event.message)"),
            ]
            pairs += fields.map { (Self.reservedKeys.contains($0.0) ? "field.\($0.0)" : $0.0, $0.1) }
            if let error = event.error { pairs.append(("error", "\(error)")) }
            buffer.writeStaticString("{")
            for (index, (key, value)) in pairs.enumerated() {
                if index > 0 { buffer.writeStaticString(",") }
                JSONText.write(key, into: &buffer)
                buffer.writeStaticString(":")
                JSONText.write(value, into: &buffer)
            }
            buffer.writeStaticString("}\n")
            return String(buffer: buffer)
        }
    }

    private static func quoteIfNeeded(_ value: String) -> String {
        value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            ? "\"\(value.replacingOccurrences(of: "\"", with: "\\\""))\"" : value
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}
