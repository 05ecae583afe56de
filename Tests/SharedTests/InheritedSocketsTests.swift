import NIOCore
import Testing

@testable import Shared

/// Which inherited socket serves which configured address (socket activation), without systemd.
@Suite struct InheritedSocketsTests {
    func socket(_ descriptor: CInt, _ name: String, _ address: SocketAddress?) -> InheritedSockets.Socket {
        InheritedSockets.Socket(descriptor: descriptor, name: name, address: address)
    }

    @Test func addressesMatchByFamilyHostAndPort() throws {
        let any4 = try SocketAddress(ipAddress: "0.0.0.0", port: 443)
        let any6 = try SocketAddress(ipAddress: "::", port: 443)
        #expect(InheritedSockets.address(any4, matches: try BindAddress(parsing: "*:443")))
        #expect(InheritedSockets.address(any4, matches: try BindAddress(parsing: "0.0.0.0:443")))
        #expect(!InheritedSockets.address(any4, matches: try BindAddress(parsing: "0.0.0.0:80")))
        #expect(!InheritedSockets.address(any4, matches: try BindAddress(parsing: "[::]:443")))
        #expect(InheritedSockets.address(any6, matches: try BindAddress(parsing: "[::]:443")))
        #expect(
            InheritedSockets.address(
                try SocketAddress(ipAddress: "127.0.0.1", port: 8080),
                matches: try BindAddress(parsing: "localhost:8080")))
        let unix = try SocketAddress(unixDomainSocketPath: "/run/appserver/app.sock")
        #expect(InheritedSockets.address(unix, matches: try BindAddress(parsing: "unix:/run/appserver/app.sock")))
        #expect(!InheritedSockets.address(unix, matches: try BindAddress(parsing: "unix:/run/other.sock")))
        // Port 0 asks the kernel for any port: a socket on the same host is that (an upgraded Edge takes over one).
        #expect(InheritedSockets.address(any4, matches: .tcp(host: "0.0.0.0", port: 0)))
        #expect(!InheritedSockets.address(any4, matches: .tcp(host: "127.0.0.1", port: 0)))
    }

    @Test func eachSocketIsTakenOnceByNameOrAddressAndTheRestStayUnclaimed() throws {
        var sockets = InheritedSockets([
            socket(3, "edge.socket", try SocketAddress(ipAddress: "0.0.0.0", port: 80)),
            socket(4, "tls", try SocketAddress(ipAddress: "0.0.0.0", port: 8443)),
            socket(5, "edge.socket", try SocketAddress(ipAddress: "0.0.0.0", port: 9999)),
        ])
        #expect(sockets.take(for: try BindAddress(parsing: "0.0.0.0:80"))?.descriptor == 3)
        #expect(sockets.take(for: try BindAddress(parsing: "0.0.0.0:80")) == nil)
        #expect(sockets.take(for: try BindAddress(parsing: "0.0.0.0:443"), name: "tls")?.descriptor == 4)
        #expect(sockets.unclaimed.map(\.descriptor) == [5])
        #expect(sockets.unclaimed.first?.description == "fd 5 (edge.socket, 0.0.0.0:9999)")
    }
}
