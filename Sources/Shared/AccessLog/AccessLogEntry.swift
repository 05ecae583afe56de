/// What the access log records about one request.
public struct AccessLogEntry: Sendable {
    public var remoteAddress: String
    /// nginx's `$time_local`, e.g. `06/Nov/1994:08:49:37 +0000`.
    public var time: String
    public var method: String
    public var uri: String
    public var version: String
    public var status: Int
    /// Body bytes actually sent (nginx's `$body_bytes_sent`).
    public var bodyBytesSent: Int
    public var referer: String?
    public var userAgent: String?
    /// Seconds from the request head's arrival to the last byte handed to the kernel.
    public var requestTime: Double
    /// For proxied requests: which upstream server answered, its status and how long it took.
    public var upstream: UpstreamFacts?
    /// The request id sent upstream, for proxied requests.
    public var requestID: String?
    /// The W3C trace id the request carried (or Edge started), so the line joins a distributed trace.
    public var traceID: String?
    /// `http` or `https`: how the request reached the server.
    public var scheme: String

    /// What the access log says about the upstream part of a proxied request.
    public struct UpstreamFacts: Sendable {
        public var address: String
        public var status: Int
        public var seconds: Double

        public init(address: String, status: Int, seconds: Double) {
            self.address = address
            self.status = status
            self.seconds = seconds
        }
    }

    public init(
        remoteAddress: String, time: String, method: String, uri: String, version: String, status: Int,
        bodyBytesSent: Int, referer: String?, userAgent: String?, requestTime: Double, scheme: String = "http"
    ) {
        self.scheme = scheme
        self.remoteAddress = remoteAddress
        self.time = time
        self.method = method
        self.uri = uri
        self.version = version
        self.status = status
        self.bodyBytesSent = bodyBytesSent
        self.referer = referer
        self.userAgent = userAgent
        self.requestTime = requestTime
    }
}
