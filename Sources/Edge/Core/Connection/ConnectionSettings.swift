import Logging
import NIOCore

/// The immutable settings every connection handler shares.
///
/// A class: each connection holds one reference to its generation's settings instead of a copy of them, which
/// was about 250 bytes of every idle keep-alive connection's memory.
public final class ConnectionSettings: Sendable {
    public let site: StaticSite
    public let maxHeaderSize: Int
    public let maxURILength: Int
    public let headerTimeout: TimeAmount
    public let keepaliveTimeout: TimeAmount
    /// How long in-flight responses get on a graceful stop (`timeouts.shutdown`).
    public let shutdownTimeout: TimeAmount
    public let sendTimeout: TimeAmount
    public let bodyTimeout: TimeAmount
    public let upstreamResponseTimeout: TimeAmount
    public let maxBodySize: Int
    public let realIP: RealIPConfig
    /// The `compression` rules.
    public let compression: CompressionPolicy
    /// `error_pages`, read into memory, and whether upstream errors get them too.
    public let errorPages: ErrorPages
    /// `errorPages` is not empty: the one test the response path pays for the feature.
    public let hasErrorPages: Bool
    public let interceptUpstreamErrors: Bool
    /// `trace_context`: pass a valid `traceparent` on, or also start one.
    public let traceContext: TraceContextMode
    public let logger: Logger
    /// Edge's metrics, when the admin listener is on (the same object across reloads, so counts carry on).
    public let metrics: EdgeMetrics?
    /// Each route's prefix as numbered in the metrics, by route index, and the number of `-` (no route).
    let routeMetricIDs: [Int]
    let noRouteMetricID: Int

    /// Settings for `config`; its rate limits count in `rateLimitZones`, which outlive a reload.
    public init(
        config: EdgeConfig, logger: Logger, rateLimitZones: RateLimitZones = RateLimitZones(),
        metrics: EdgeMetrics? = nil
    ) {
        self.metrics = metrics
        self.routeMetricIDs = config.routes.map { metrics?.labelID($0.prefix) ?? 0 }
        self.noRouteMetricID = metrics?.labelID("-") ?? 0
        self.site = StaticSite(
            routes: config.routes, precompressed: config.compression.precompressed,
            rateLimits: rateLimitZones.limits(for: config.routes))
        self.maxHeaderSize = config.limits.maxHeaderSize.bytes
        self.maxURILength = config.limits.maxURILength.bytes
        self.headerTimeout = .milliseconds(config.timeouts.header.milliseconds)
        self.keepaliveTimeout = .milliseconds(config.timeouts.keepalive.milliseconds)
        self.shutdownTimeout = .milliseconds(config.timeouts.shutdown.milliseconds)
        self.sendTimeout = .milliseconds(config.timeouts.send.milliseconds)
        self.bodyTimeout = .milliseconds(config.timeouts.body.milliseconds)
        self.upstreamResponseTimeout = .milliseconds(config.timeouts.upstreamResponse.milliseconds)
        self.maxBodySize = config.limits.maxBodySize.bytes
        self.realIP = config.realIP
        self.compression = CompressionPolicy(config.compression)
        self.errorPages = ErrorPages(config.errorPages)
        self.hasErrorPages = !errorPages.isEmpty
        self.interceptUpstreamErrors = config.interceptUpstreamErrors
        self.traceContext = config.traceContext
        self.logger = logger
    }
}
