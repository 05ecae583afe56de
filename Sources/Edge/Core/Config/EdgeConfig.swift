import Shared

/// Everything `edge` reads from its YAML config file (see `conf/edge.yaml` and docs/configuration.md).
public struct EdgeConfig: Sendable {
    /// Event-loop threads.
    public var threads: ThreadCount = .auto
    /// Addresses to accept connections on.
    public var listen: [ListenConfig] = [ListenConfig(address: .tcp(host: "127.0.0.1", port: 8080))]
    /// Request size and connection-count limits.
    public var limits = LimitsConfig()
    /// Per-phase timeouts of a client connection.
    public var timeouts = TimeoutsConfig()
    /// Where requests go: the longest matching prefix wins.
    public var routes: [RouteConfig] = []
    /// Named groups of servers that routes proxy to.
    public var upstreams: [String: UpstreamConfig] = [:]
    /// Which peers may tell Edge the client's address.
    public var realIP = RealIPConfig()
    /// gzip on the fly and precompressed files.
    public var compression = CompressionConfig()
    /// How often cached files are checked against the disk.
    public var fileCache = FileCacheConfig()
    /// Where access log lines are written.
    public var accessLog: LogDestination = .standardOutput
    /// The access log line format.
    public var accessLogFormat: AccessLogFormat = .combined
    /// Pages sent instead of Edge's short plain-text answers, by status (400-599): file paths, absolute once loaded.
    public var errorPages: [Int: String] = [:]
    /// Whether an upstream's error response with a status in `errorPages` is replaced by that page, as nginx's
    /// `proxy_intercept_errors`.
    public var interceptUpstreamErrors = false
    /// The admin listener (`/metrics`, `/status`); none when absent.
    public var admin: AdminConfig?
    /// W3C Trace Context on proxied requests: pass a valid `traceparent` on (the default), or also start one.
    public var traceContext: TraceContextMode = .pass

    /// The built-in defaults: listen on 127.0.0.1:8080, no routes.
    public init() {}
}

extension EdgeConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case threads, listen, limits, timeouts, routes, upstreams, compression
        case realIP = "real_ip"
        case fileCache = "file_cache"
        case accessLog = "access_log"
        case accessLogFormat = "access_log_format"
        case errorPages = "error_pages"
        case interceptUpstreamErrors = "intercept_upstream_errors"
        case admin
        case traceContext = "trace_context"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        threads = container.value(.threads, default: threads, decoder)
        listen = container.value(.listen, default: listen, decoder)
        limits = container.value(.limits, default: limits, decoder)
        timeouts = container.value(.timeouts, default: timeouts, decoder)
        routes = container.value(.routes, default: routes, decoder)
        upstreams = container.value(.upstreams, default: upstreams, decoder)
        realIP = container.value(.realIP, default: realIP, decoder)
        compression = container.value(.compression, default: compression, decoder)
        fileCache = container.value(.fileCache, default: fileCache, decoder)
        accessLog = container.value(.accessLog, default: accessLog, decoder)
        accessLogFormat = container.value(.accessLogFormat, default: accessLogFormat, decoder)
        let pages: [String: String] = container.value(.errorPages, default: [:], decoder)
        for (status, path) in pages {
            guard let code = Int(status), (400...599).contains(code) else {
                decoder.diagnostics.record(
                    "'\(status)' is not an error status (400-599)",
                    at: decoder.codingPath + [Keys.errorPages, AnyCodingKey(stringValue: status)])
                continue
            }
            errorPages[code] = path
        }
        interceptUpstreamErrors = container.value(.interceptUpstreamErrors, default: false, decoder)
        admin = container.value(.admin, default: nil, decoder)
        traceContext = container.value(.traceContext, default: traceContext, decoder)
    }
}

/// `threads: auto` (one per CPU) or a positive number.
public enum ThreadCount: Hashable, Sendable, Decodable {
    case auto
    case fixed(Int)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let count = try? container.decode(Int.self) {
            guard count > 0 else { throw ConfigValueError("must be auto or a number above 0, not \(count)") }
            self = .fixed(count)
        } else if let text = try? container.decode(String.self), text == "auto" {
            self = .auto
        } else {
            throw ConfigValueError("must be auto or a number above 0")
        }
    }

    /// The number of threads to start on a machine with `cpuCount` CPUs.
    public func resolved(cpuCount: Int) -> Int {
        switch self {
        case .auto: max(1, cpuCount)
        case .fixed(let count): count
        }
    }
}
