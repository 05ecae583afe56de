import NIOCore
import Shared
import Testing

/// The admin listener's building blocks: the request rate over the last minute, and the status page's JSON and
/// HTML.
@Suite struct AdminPagesTests {
    @Test func theRateSpansTheLastMinute() {
        var rate = RequestRate()
        #expect(rate.perSecond == 0)
        rate.sample(total: 0, at: 0)
        rate.sample(total: 100, at: 10)
        #expect(rate.perSecond == 10)
        // A minute of 5 per second after the first burst: the burst drops out of the window.
        for second in 11...90 { rate.sample(total: 100 + UInt64(second - 10) * 5, at: Double(second)) }
        #expect(rate.perSecond == 5)
    }

    @Test func statusRendersAsJSONAndEscapedHTML() {
        let status = StatusValue.object([
            ("server", .object([("pid", .integer(42)), ("name", .text("a \"quoted\" <b>"))])),
            (
                "workers",
                .array([
                    .object([("pid", .integer(1)), ("load", .number(0.25)), ("current", .null)]),
                    .object([("pid", .integer(2)), ("load", .number(1)), ("current", .text("GET /x"))]),
                ])
            ),
        ])
        #expect(
            String(buffer: status.json())
                == #"{"server":{"pid":42,"name":"a \"quoted\" <b>"},"workers":[{"pid":1,"load":0.25,"current":null},{"pid":2,"load":1,"current":"GET /x"}]}"#
                + "\n")
        let html = String(buffer: status.html(title: "T <1>"))
        #expect(html.contains("<title>T &lt;1&gt;</title>"))
        #expect(html.contains("a &quot;quoted&quot; &lt;b&gt;"))
        #expect(html.contains("<tr><th>pid</th><th>load</th><th>current</th></tr>"))
        #expect(html.contains("<td>GET /x</td>"))
    }
}
