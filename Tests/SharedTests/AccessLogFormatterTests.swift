import Foundation
import NIOCore
import Testing

@testable import Shared

@Suite struct AccessLogFormatterTests {
    let entry = AccessLogEntry(
        remoteAddress: "203.0.113.7", time: "06/Nov/1994:08:49:37 +0000", method: "GET", uri: "/a?b=\"c\"",
        version: "HTTP/1.1", status: 200, bodyBytesSent: 1024, referer: nil, userAgent: "curl/8\u{1b}[31m",
        requestTime: 0.0123)

    private func line(_ format: AccessLogFormat) -> String {
        var buffer = ByteBuffer()
        AccessLogFormatter.write(entry, format: format, into: &buffer)
        return String(buffer: buffer)
    }

    @Test func combinedMatchesNginxPlusRequestTime() {
        #expect(
            line(.combined)
                == "203.0.113.7 - - [06/Nov/1994:08:49:37 +0000] \"GET /a?b=\\x22c\\x22 HTTP/1.1\" 200 1024 \"-\" \"curl/8\\x1B[31m\" 0.012\n"
        )
    }

    @Test func jsonIsOneValidObjectPerLine() throws {
        let text = line(.json)
        #expect(text.hasSuffix("}\n"))
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(object?["status"] as? Int == 200)
        #expect(object?["uri"] as? String == "/a?b=\"c\"")
        #expect(object?["user_agent"] as? String == "curl/8\u{1b}[31m")
    }

    @Test func secondsHaveMillisecondPrecision() {
        #expect(AccessLogFormatter.formatSeconds(0) == "0.000")
        #expect(AccessLogFormatter.formatSeconds(1.5) == "1.500")
        #expect(AccessLogFormatter.formatSeconds(0.0456) == "0.046")
        #expect(AccessLogFormatter.formatSeconds(0.9996) == "1.000")
        #expect(AccessLogFormatter.formatSeconds(123.004) == "123.004")
        #expect(AccessLogFormatter.formatSeconds(0.01) == "0.010")
    }

    @Test func proxiedLinesCarryTheUpstreamFieldsAndTheScheme() throws {
        var proxied = entry
        proxied.uri = "/plaintext"
        proxied.userAgent = "wrk"
        proxied.status = 502
        proxied.bodyBytesSent = 1_234_567_890
        proxied.upstream = .init(address: "unix:/run/app.sock", status: 0, seconds: 60.0004)
        proxied.requestID = "0f1e2d3c"
        proxied.scheme = "https"
        var buffer = ByteBuffer()
        AccessLogFormatter.write(proxied, format: .combined, into: &buffer)
        #expect(
            String(buffer: buffer)
                == "203.0.113.7 - - [06/Nov/1994:08:49:37 +0000] \"GET /plaintext HTTP/1.1\" 502 1234567890 \"-\" \"wrk\" 0.012"
                + " upstream=unix:/run/app.sock upstream_status=0 upstream_time=60.000 request_id=0f1e2d3c scheme=https\n"
        )
        buffer.clear()
        AccessLogFormatter.write(proxied, format: .json, into: &buffer)
        let object = try JSONSerialization.jsonObject(with: Data(String(buffer: buffer).utf8)) as? [String: Any]
        #expect(object?["body_bytes_sent"] as? Int == 1_234_567_890)
        #expect(object?["upstream_status"] as? Int == 0)
        #expect(object?["upstream_time"] as? Double == 60.0)
        #expect(object?["request_id"] as? String == "0f1e2d3c")
    }

    /// A line is written into room reserved for it beforehand: fields made only of bytes that must be escaped (each
    /// becoming four bytes in combined, six in JSON), numbers at their longest and a buffer already holding lines
    /// still fit, whole and correct.
    @Test func linesOfEscapesAndLongNumbersFitTheirRoom() throws {
        var worst = entry
        let controls = String(repeating: "\u{1}", count: 3000)
        worst.uri = controls
        worst.userAgent = controls
        worst.referer = String(repeating: "\"", count: 500)
        worst.bodyBytesSent = Int.max
        worst.status = Int.min
        worst.requestTime = 1e15
        worst.upstream = .init(address: controls, status: Int.max, seconds: 1e15)
        worst.requestID = controls
        worst.traceID = controls
        for format in [AccessLogFormat.combined, .json] {
            var buffer = ByteBuffer(string: "an earlier line\n")
            AccessLogFormatter.write(worst, format: format, into: &buffer)
            let text = String(buffer: buffer)
            #expect(text.hasPrefix("an earlier line\n") && text.hasSuffix("\n"))
            if format == .json {
                let object = try JSONSerialization.jsonObject(with: Data(text.dropFirst(16).utf8)) as? [String: Any]
                #expect(object?["user_agent"] as? String == controls)
                #expect(object?["body_bytes_sent"] as? Int == Int.max)
                #expect(object?["status"] as? Int == Int.min)
            } else {
                #expect(text.contains(" " + String(Int.min) + " " + String(Int.max) + " \""))
                #expect(text.contains(String(repeating: "\\x01", count: 3000)))
            }
        }
    }
}
