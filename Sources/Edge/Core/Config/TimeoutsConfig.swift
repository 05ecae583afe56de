import Shared

/// `timeouts`: how long each phase of a client connection may take.
public struct TimeoutsConfig: Sendable, Hashable {
    /// The whole request head must arrive within this (slowloris protection).
    public var header: ConfigDuration = .seconds(10)
    /// An idle keep-alive connection is closed after this.
    public var keepalive: ConfigDuration = .seconds(75)
    /// A response that makes no progress towards the client for this long is abandoned.
    public var send: ConfigDuration = .seconds(60)
    /// On TERM, in-flight responses get this long before the process exits anyway.
    public var shutdown: ConfigDuration = .seconds(30)

    /// The defaults of DESIGN.md §4.
    public init() {}
}

extension TimeoutsConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case header, keepalive, send, shutdown
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        header = container.value(.header, default: header, decoder)
        keepalive = container.value(.keepalive, default: keepalive, decoder)
        send = container.value(.send, default: send, decoder)
        shutdown = container.value(.shutdown, default: shutdown, decoder)
        for (key, value) in [(Keys.header, header), (.send, send)] where value.milliseconds == 0 {
            decoder.diagnostics.record("must be above 0", at: decoder.codingPath + [key])
        }
    }
}
