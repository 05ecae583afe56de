import NIOCore
import Shared
import Testing

@testable import EdgeCore

/// `trace_context`: which `traceparent` and `tracestate` go upstream, as validated fields, never as the client wrote
/// them.
@Suite struct ForwardedTraceTests {
    private func upstreamHead(_ fields: String, mode: TraceContextMode = .pass) throws -> String {
        var parser = HTTP1RequestParser(limits: .init(maxURILength: 1024, maxHeaderSize: 4096))
        parser.append(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n"))
        guard case .head(let head) = try parser.next() else { throw ParseFailure() }
        let client = ProxyHeaders.clientFacts(
            peer: "192.0.2.1", trusted: false, head: head, realIP: RealIPConfig(), scheme: "http", port: 80,
            traceContext: mode
        ) { "id" }
        var buffer = ByteBuffer()
        ProxyHeaders.writeUpstreamRequest(head, client: client, into: &buffer)
        return String(buffer: buffer)
    }

    struct ParseFailure: Error {}

    private let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func aValidTraceparentGoesUpOnceWithItsState() throws {
        let head = try upstreamHead("TraceParent: \(parent)\r\ntracestate: a=1\r\ntracestate: b=2\r\n")
        #expect(head.components(separatedBy: "traceparent: \(parent)\r\n").count == 2)
        #expect(!head.contains("TraceParent:"))
        #expect(head.contains("tracestate: a=1, b=2\r\n"))
    }

    @Test func aBrokenTracestateIsDroppedAndTheParentKept() throws {
        let head = try upstreamHead("traceparent: \(parent)\r\ntracestate: BadVendor=1\r\n")
        #expect(head.contains("traceparent: \(parent)\r\n"))
        #expect(!head.lowercased().contains("tracestate"))
    }

    @Test func anInvalidTraceparentIsNotPassedOnAndStartReplacesIt() throws {
        for invalid in ["01-\(parent.dropFirst(3))-extra", "00-xyz", parent.uppercased()] {
            let passed = try upstreamHead("traceparent: \(invalid)\r\ntracestate: a=1\r\n")
            #expect(!passed.lowercased().contains("traceparent"), "\(invalid)")
            #expect(!passed.lowercased().contains("tracestate"), "\(invalid)")
            let started = try upstreamHead("traceparent: \(invalid)\r\n", mode: .start)
            #expect(
                started.range(of: #"traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-01\r\n"#, options: .regularExpression)
                    != nil)
        }
        let trace = try #require(ForwardedTrace.forRequest(HeaderFields(bytes: ByteBuffer(), fields: []), mode: .start))
        #expect(trace.traceID.count == 32 && trace.traceParent.contains(trace.traceID))
        #expect(ForwardedTrace.forRequest(HeaderFields(bytes: ByteBuffer(), fields: []), mode: .pass) == nil)
    }
}
