import Foundation
import TestSupport
import Testing

/// `MessageConformanceTable` straight at AppServer: each request gets its status, its connection closes, and the
/// request behind it is never answered.
@Suite struct MessageConformanceTests {
    let server: AppServerProcess

    init() throws {
        server = try AppServerProcess(config: "")
    }

    @Test(arguments: MessageConformanceTable.rows)
    func refusedAndClosed(row: MessageConformanceTable.Row) throws {
        let connection = try server.connect()
        try connection.send(row.request(path: "/echo") + MessageConformanceTable.smuggled)
        #expect(try connection.readResponse().status == row.status)
        #expect(connection.waitForClose())
        #expect(connection.unreadText.isEmpty, "answered after the refusal: \(connection.unreadText)")
    }
}
