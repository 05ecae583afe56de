import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import Shared

/// The per-client limit of `ConnectionRegistry`, with channels from given addresses.
@Suite struct ConnectionRegistryTests {
    let registry = ConnectionRegistry(
        maxConnections: 100, perClient: .init(max: 2, isExempt: { $0 == "198.51.100.1" }),
        logger: Logger(label: "test"))

    func channel(from address: String) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: address, port: 40000)).wait()
        return channel
    }

    @Test func eachAddressGetsItsOwnLimit() throws {
        let first = try channel(from: "192.0.2.1"), second = try channel(from: "192.0.2.1")
        #expect(registry.admit(first) && registry.admit(second))
        let third = try channel(from: "192.0.2.1")
        #expect(!registry.admit(third))
        #expect(!third.isActive, "a refused connection is closed")
        #expect(registry.admit(try channel(from: "192.0.2.2")))
        #expect(registry.count(of: "192.0.2.1") == 2)

        // Closing one frees a place for that address, and the count never goes below what is open.
        try first.close().wait()
        first.embeddedEventLoop.run()
        #expect(registry.count(of: "192.0.2.1") == 1)
        #expect(registry.admit(try channel(from: "192.0.2.1")))
        #expect(!registry.admit(try channel(from: "192.0.2.1")))
    }

    @Test func anExemptAddressIsNotCounted() throws {
        for _ in 0..<5 { #expect(registry.admit(try channel(from: "198.51.100.1"))) }
        #expect(registry.count(of: "198.51.100.1") == 0)
    }
}
