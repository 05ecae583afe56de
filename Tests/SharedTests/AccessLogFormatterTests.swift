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
    }
}
