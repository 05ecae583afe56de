import Foundation
import TestSupport
import Testing

/// `MessageConformanceTable` at Edge, in front of an upstream: each request gets its status, its connection closes,
/// the request behind it is never answered, and nothing the parser refused reaches the upstream.
@Suite struct MessageConformanceTests {
    let directory = TestDirectory()
    let upstream: FakeUpstream
    let edge: EdgeProcess

    init() throws {
        upstream = try FakeUpstream(
            directory: directory, name: "up.sock", behaviour: .fixed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        edge = try EdgeProcess(
            directory: directory,
            config: "upstreams: {app: {servers: [\"unix:up.sock\"]}}\nroutes: [{prefix: /, upstream: app}]")
    }

    @Test(arguments: MessageConformanceTable.rows)
    func refusedAndClosed(row: MessageConformanceTable.Row) throws {
        let path = "/row-" + row.name.filter { $0.isLetter || $0.isNumber }
        let connection = try edge.connect()
        try connection.send(row.request(path: path) + MessageConformanceTable.smuggled)
        #expect(try connection.readResponse().status == row.status)
        #expect(connection.waitForClose())
        #expect(connection.unreadText.isEmpty, "answered after the refusal: \(connection.unreadText)")
        // A well-formed request on a new connection goes through, so the upstream has had its chance to see
        // anything sent before it.
        #expect(try get(edge.port, "/after").status == 200)
        #expect(!upstream.requestLines.contains { $0.hasSuffix("/smuggled") })
        if row.refusedAtHead {
            #expect(!upstream.requestLines.contains { $0.contains(path) }, "\(upstream.requestLines)")
        }
    }

    @Test func anHTTP10ClientGetsNo100Continue() throws {
        let connection = try edge.connect()
        try connection.send("POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        try connection.send("ab")
        let response = try connection.readResponse()
        #expect(response.status == 200)
        // The same request over HTTP/1.1 gets its 100 first.
        let current = try edge.connect()
        try current.send("POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(try current.readResponse().status == 100)
    }
}
