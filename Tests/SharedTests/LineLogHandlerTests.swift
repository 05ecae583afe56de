import Foundation
import Logging
import Testing

@testable import Shared

@Suite struct LineLogHandlerTests {
    static func event(
        _ message: Logger.Message, metadata: Logger.Metadata? = nil, error: (any Error)? = nil
    )
        -> LogEvent
    {
        LogEvent(
            level: .warning, message: message, error: error, metadata: metadata, source: "test", file: #fileID,
            function: #function, line: #line)
    }

    @Test func textIsOneReadableLine() {
        let handler = LineLogHandler(label: "edge", level: .info)
        let line = handler.line(
            for: Self.event("client stopped reading", metadata: ["client": "1.2.3.4", "why": "a b"]),
            at: "2026-12-07T16:00:00.000Z")
        #expect(line == "2026-12-07T16:00:00.000Z warning edge: client stopped reading client=1.2.3.4 why=\"a b\"\n")
    }

    /// One object per line: the fixed keys, each metadata field as a key of its own (one named like a fixed key
    /// renamed), and every value escaped so that quotes and newlines in a message cannot break the line.
    @Test func jsonIsOneObjectPerLine() throws {
        var handler = LineLogHandler(label: "appserver.worker", level: .info, format: .json)
        handler[metadataKey: "pid"] = "42"
        struct Failure: Error, CustomStringConvertible { var description: String { "broken \"pipe\"" } }
        let line = handler.line(
            for: Self.event(
                "request aborted\nby \"heartbeat\"", metadata: ["request_id": "abc", "msg": "shadowed"],
                error: Failure()),
            at: "2026-12-07T16:00:00.000Z")
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(
            object == [
                "ts": "2026-12-07T16:00:00.000Z", "level": "warning", "logger": "appserver.worker",
                "msg": "request aborted\nby \"heartbeat\"", "pid": "42", "request_id": "abc", "field.msg": "shadowed",
                "error": "broken \"pipe\"",
            ])
    }
}
