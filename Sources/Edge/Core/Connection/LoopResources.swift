import NIOCore
import Shared

/// What each event loop owns for itself, so the request path takes no locks: the `Date` cache, the open-file
/// cache and the access log batch.
public final class LoopResources {
    public let dates = DateCache()
    public let files: OpenFileCache
    public let accessLog: AccessLogBuffer
    /// Pooled connections to upstream servers, for proxied routes.
    let upstreams: UpstreamPool?
    /// Reusable deflate streams for gzip on the fly.
    let gzipStreams: GzipStreams
    /// Open descriptors of files sent from disk.
    let descriptors = OpenDescriptors()
    /// Turns for file bodies read out on this loop.
    let fileSendTurns: FileSendTurns
    /// HTTP/2 connections closed for protocol errors are logged at most once a second per client (and loop).
    var protocolErrorWarnings = PerClientWarningThrottle()
    /// Requests refused by `rate_limit` are logged at most once a second per client (and loop).
    var rateLimitWarnings = PerClientWarningThrottle()
    /// This loop's counts for Edge's metrics, when the admin listener is on.
    let metrics: LoopMetrics?

    init(
        eventLoop: any EventLoop, files: OpenFileCache, accessLog: AccessLogBuffer, upstreams: UpstreamPool? = nil,
        gzipLevel: Int = 5, metrics: LoopMetrics? = nil
    ) {
        self.metrics = metrics
        self.files = files
        self.accessLog = accessLog
        self.upstreams = upstreams
        self.gzipStreams = GzipStreams(level: gzipLevel)
        self.fileSendTurns = FileSendTurns(eventLoop: eventLoop)
    }
}

/// One `LoopResources` per event loop.
public typealias PerLoopResources = PerLoop<LoopResources>
