import Shared
import Testing

@testable import EdgeCore

@Suite struct ListenerReloadPlanTests {
    static let http = ListenConfig(address: .tcp(host: "127.0.0.1", port: 8080))
    static let unix = ListenConfig(address: .unix(path: "/run/edge.sock"))
    static let anyPort = ListenConfig(address: .tcp(host: "127.0.0.1", port: 0))

    @Test func keptAddressesKeepTheirSocketsAndNewOnesGetNewIDs() {
        let running: [ListenerReloadPlan.Running] = [
            .init(id: 0, entry: Self.http, bound: Self.http.address),
            .init(id: 1, entry: Self.unix, bound: Self.unix.address),
        ]
        let added = ListenConfig(address: .tcp(host: "127.0.0.1", port: 8443))
        let plan = ListenerReloadPlan(running: running, wanted: [added, Self.http], nextID: 2)
        #expect(plan.entries == [.init(entry: added, id: 2, keeps: nil), .init(entry: Self.http, id: 0, keeps: 0)])
        #expect(plan.nextID == 3)
    }

    /// A listener keeps its socket when its TLS or redirect changes: only the address decides.
    @Test func aChangedEntryOnTheSameAddressKeepsItsSocket() {
        var redirecting = Self.http
        redirecting.redirectToHTTPS = true
        let plan = ListenerReloadPlan(
            running: [.init(id: 4, entry: Self.http, bound: Self.http.address)], wanted: [redirecting], nextID: 5)
        #expect(plan.entries == [.init(entry: redirecting, id: 4, keeps: 0)])
    }

    /// `127.0.0.1:0` got port 40000: a config naming that port keeps the socket; a changed port-0 entry is new.
    @Test func portZeroMatchesByTheBoundPortOrByTheWholeEntry() {
        let bound = BindAddress.tcp(host: "127.0.0.1", port: 40000)
        let running: [ListenerReloadPlan.Running] = [.init(id: 0, entry: Self.anyPort, bound: bound)]
        let named = ListenConfig(address: bound)
        #expect(ListenerReloadPlan(running: running, wanted: [named], nextID: 1).entries[0].keeps == 0)
        #expect(ListenerReloadPlan(running: running, wanted: [Self.anyPort], nextID: 1).entries[0].keeps == 0)
        var redirecting = Self.anyPort
        redirecting.redirectToHTTPS = true
        #expect(ListenerReloadPlan(running: running, wanted: [redirecting], nextID: 1).entries[0].keeps == nil)
    }
}
