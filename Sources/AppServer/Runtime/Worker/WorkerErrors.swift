/// `struct ucred` of `SO_PEERCRED`: who is on the other end of a Unix socket.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

struct ConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the client closed the connection" }
}

struct ResponseStateError: Error, CustomStringConvertible {
    var description: String { "response already finished or head not written" }
}
