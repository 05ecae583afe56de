import Shared

/// What a reload does with the listeners: a `listen` entry whose address a running listener already has keeps that
/// socket (and its id; its TLS and redirect follow the new entry), any other entry gets a new socket and id, and
/// running listeners no entry claims stop.
///
/// An address matches the configured one or the one actually bound, so `127.0.0.1:8080` keeps the socket that
/// `127.0.0.1:0` got port 8080 for. An entry with port 0 asks for any free port: it keeps a socket only when the
/// running entry was the same in every key, and otherwise gets a new one.
struct ListenerReloadPlan {
    struct Running {
        let id: Int
        let entry: ListenConfig
        /// The address with the port the kernel chose; `nil` if unknown.
        let bound: BindAddress?
    }

    struct Entry: Equatable {
        let entry: ListenConfig
        let id: Int
        /// The running listener it keeps, as an index into `running`; `nil` for a new socket.
        let keeps: Int?
    }

    /// In the new `listen` order.
    let entries: [Entry]
    /// The next unused id.
    let nextID: Int

    init(running: [Running], wanted: [ListenConfig], nextID: Int) {
        var claimed = Set<Int>()
        var next = nextID
        entries = wanted.map { entry in
            let match = running.indices.first { index in
                !claimed.contains(index) && Self.keeps(running[index], for: entry)
            }
            if let match {
                claimed.insert(match)
                return Entry(entry: entry, id: running[match].id, keeps: match)
            }
            defer { next += 1 }
            return Entry(entry: entry, id: next, keeps: nil)
        }
        self.nextID = next
    }

    private static func keeps(_ listener: Running, for entry: ListenConfig) -> Bool {
        if entry.address.port == 0 { return listener.entry == entry }
        return listener.entry.address == entry.address || listener.bound == entry.address
    }
}
