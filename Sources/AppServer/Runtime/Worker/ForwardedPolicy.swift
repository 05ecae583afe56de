import HTTPTypes
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// Who a connection's peer is: a Unix-socket peer identified by its uid (`SO_PEERCRED`), or a TCP address.
enum PeerIdentity: Sendable, CustomStringConvertible {
    case unix(uid: UInt32?)
    case ip(String)

    var description: String {
        switch self {
        case .unix(let uid): uid.map { "unix:uid=\($0)" } ?? "unix"
        case .ip(let address): address
        }
    }
}

/// Decides whether a peer's `X-Forwarded-*` headers are believed (`forwarded_allow`), and applies the decision.
struct ForwardedPolicy: Sendable {
    private let uids: Set<UInt32>
    private let networks: [CIDR]

    /// `ownUID` is always believed: a peer running as AppServer's own user could already do anything AppServer
    /// does, so trusting its headers grants nothing, and a setup where one user runs both Edge and AppServer (the
    /// README's main job, development) then reports real client addresses.
    init(_ peers: [ForwardedPeer], ownUID: UInt32 = getuid()) {
        var uids: Set<UInt32> = [ownUID]
        var networks: [CIDR] = []
        for peer in peers {
            switch peer {
            case .uid(let uid): uids.insert(uid)
            case .network(let cidr): networks.append(cidr)
            case .user(let name):
                if let entry = getpwnam(name) { uids.insert(entry.pointee.pw_uid) }
            }
        }
        self.uids = uids
        self.networks = networks
    }

    func trusts(_ peer: PeerIdentity) -> Bool {
        switch peer {
        case .unix(let uid): uid.map(uids.contains) ?? false
        case .ip(let address): networks.contains { $0.contains(address) }
        }
    }

    /// Whether a header name is one of the forwarding fields only trusted peers may set.
    static func isForwardedField(_ name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 9: ASCII.equalsIgnoringCase(name, "forwarded") || ASCII.equalsIgnoringCase(name, "x-real-ip")
        case 15: ASCII.equalsIgnoringCase(name, "x-forwarded-for")
        case 16:
            ASCII.equalsIgnoringCase(name, "x-forwarded-host") || ASCII.equalsIgnoringCase(name, "x-forwarded-port")
        case 17: ASCII.equalsIgnoringCase(name, "x-forwarded-proto")
        default: false
        }
    }

    /// The client address and scheme to show the app. Untrusted peers' forwarded fields were already dropped.
    func resolve(_ forwarded: ForwardedValues, peer: PeerIdentity, trusted: Bool) -> (client: String, scheme: String) {
        guard trusted else { return (peer.description, "http") }
        // The peer's own description (a string built per call) only when no forwarded field names the client.
        let client: String
        if let realIP = forwarded.realIP {
            client = realIP
        } else if let forwardedFor = forwarded.forwardedFor, let last = forwardedFor.split(separator: ",").last {
            // The trusted proxy appended the address it saw last.
            client = last.trimmingCharacters(in: " \t")
        } else {
            client = peer.description
        }
        let scheme = forwarded.proto.map { $0.lowercased() == "https" ? "https" : "http" } ?? "http"
        return (client, scheme)
    }
}

/// The forwarding fields `resolve` reads, noted while the request's fields are converted. Looking them up in the
/// finished `HTTPFields` afterwards scanned and joined every field per name, a sixth of a worker's time per request.
struct ForwardedValues {
    var realIP: String?
    var forwardedFor: String?
    var proto: String?

    /// Notes `value` if `name` is one of the fields; repeated fields combine as one list (RFC 9110 §5.3).
    mutating func note(name: UnsafeRawBufferPointer, value: @autoclosure () -> String) {
        switch name.count {
        case 9 where ASCII.equalsIgnoringCase(name, "x-real-ip"): realIP = Self.combined(realIP, value())
        case 15 where ASCII.equalsIgnoringCase(name, "x-forwarded-for"):
            forwardedFor = Self.combined(forwardedFor, value())
        case 17 where ASCII.equalsIgnoringCase(name, "x-forwarded-proto"): proto = Self.combined(proto, value())
        default: break
        }
    }

    private static func combined(_ earlier: String?, _ value: String) -> String {
        earlier.map { "\($0), \(value)" } ?? value
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var slice = self
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}

extension HTTPField.Name {
    // Made once: building a name validates and lowercases a string, which per request showed in the profile.
    static let xRealIP = HTTPField.Name("X-Real-IP")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let xForwardedHost = HTTPField.Name("X-Forwarded-Host")!
    static let xForwardedPort = HTTPField.Name("X-Forwarded-Port")!
    static let xRequestID = HTTPField.Name("X-Request-ID")!
}
