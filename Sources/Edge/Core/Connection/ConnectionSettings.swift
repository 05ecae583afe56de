import Logging
import NIOCore

/// The immutable settings every connection handler shares.
public struct ConnectionSettings: Sendable {
    public var site: StaticSite
    public var maxHeaderSize: Int
    public var maxURILength: Int
    public var headerTimeout: TimeAmount
    public var keepaliveTimeout: TimeAmount
    public var sendTimeout: TimeAmount
    public var bodyTimeout: TimeAmount
    public var upstreamResponseTimeout: TimeAmount
    public var maxBodySize: Int
    public var realIP: RealIPConfig
    /// The `compression` rules.
    public var compression: CompressionPolicy
    public var logger: Logger

    public init(config: EdgeConfig, logger: Logger) {
        self.site = StaticSite(routes: config.routes, precompressed: config.compression.precompressed)
        self.maxHeaderSize = config.limits.maxHeaderSize.bytes
        self.maxURILength = config.limits.maxURILength.bytes
        self.headerTimeout = .milliseconds(config.timeouts.header.milliseconds)
        self.keepaliveTimeout = .milliseconds(config.timeouts.keepalive.milliseconds)
        self.sendTimeout = .milliseconds(config.timeouts.send.milliseconds)
        self.bodyTimeout = .milliseconds(config.timeouts.body.milliseconds)
        self.upstreamResponseTimeout = .milliseconds(config.timeouts.upstreamResponse.milliseconds)
        self.maxBodySize = config.limits.maxBodySize.bytes
        self.realIP = config.realIP
        self.compression = CompressionPolicy(config.compression)
        self.logger = logger
    }
}
