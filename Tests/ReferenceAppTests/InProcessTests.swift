import AppServer
import AppServerTesting
import Foundation
import HTTPTypes
import NIOCore
import TestSupport
import Testing

@testable import appserver

/// The reference app driven in process through `AppServerTesting`, as a user tests their own app: no sockets, no
/// processes, the responses a client would read.
@Suite struct InProcessTests {
    let directory = TestDirectory()

    func client() async throws -> AppTestClient<ReferenceApp> {
        try await AppTestClient.booted(
            ReferenceApp(), settings: ["media_dir": .string("media")], configDirectory: directory.path)
    }

    @Test func routesAnswerAsOverTheNetwork() async throws {
        let client = try await client()
        let plaintext = try await client.execute(.get, "/plaintext")
        #expect(plaintext.status == .ok && plaintext.bodyText == "Hello, World!")
        #expect(plaintext.headerFields[.contentType] == "text/plain")
        let missing = try await client.execute(.get, "/nowhere")
        #expect(missing.status == .notFound)
        let wrongMethod = try await client.execute(.delete, "/plaintext")
        #expect(wrongMethod.status == .methodNotAllowed && wrongMethod.headerFields[.allow] == "GET, HEAD")
    }

    @Test func aRequestBodyReachesTheApp() async throws {
        let client = try await client()
        let echoed = try await client.execute(.post, "/echo", body: ByteBuffer(string: "ping"))
        #expect(echoed.status == .ok)
        #expect(echoed.bodyText.contains("\"body_length\":4"), "\(echoed.bodyText)")
    }

    /// Booting with the settings a config file would give: the media directory is made relative to the config's.
    @Test func bootUsesTheSettings() async throws {
        _ = try await client()
        #expect(FileManager.default.fileExists(atPath: directory.path + "/media"))
        await #expect(throws: AppSettingError.self) {
            _ = try await AppTestClient.booted(ReferenceApp(), settings: ["media_dir": .int(3)])
        }
    }
}
