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
    /// Between two reads of a request body.
    public var body: ConfigDuration = .seconds(60)
    /// Establishing a connection to an upstream server.
    public var upstreamConnect: ConfigDuration = .seconds(2)
    /// From sending a request upstream to the first byte of its response; then 504.
    public var upstreamResponse: ConfigDuration = .seconds(60)

    /// The defaults of DESIGN.md §4.
    public init() {}
}

extension TimeoutsConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case header, keepalive, send, shutdown, body
        case upstreamConnect = "upstream_connect"
        case upstreamResponse = "upstream_response"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        header = container.value(.header, default: header, decoder)
        keepalive = container.value(.keepalive, default: keepalive, decoder)
        send = container.value(.send, default: send, decoder)
        shutdown = container.value(.shutdown, default: shutdown, decoder)
        body = container.value(.body, default: body, decoder)
        upstreamConnect = container.value(.upstreamConnect, default: upstreamConnect, decoder)
        upstreamResponse = container.value(.upstreamResponse, default: upstreamResponse, decoder)
        for (key, value) in [(Keys.header, header), (.send, send)] where value.milliseconds == 0 {
            decoder.diagnostics.record("must be above 0", at: decoder.codingPath + [key])
        }
    }
}
