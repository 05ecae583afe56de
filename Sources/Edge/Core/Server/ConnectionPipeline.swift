import NIOCore
import NIOHTTP2
import NIOSSL
import NIOTLS
import Shared

/// Builds each accepted connection's pipeline: `HTTP1ConnectionHandler` alone on plain listeners; on TLS listeners
/// SNI (which picks the certificate's context) → TLS → handshake deadline → ALPN, which then installs HTTP/1.1 or
/// HTTP/2: `HTTP2FastPath` for the requests carried on the connection, and one `HTTP2StreamBridge` +
/// `HTTP1ConnectionHandler` per stream for the others.
enum ConnectionPipeline {
    static func configure(_ channel: any Channel, listener: ListenerSetup, generation: ServingGeneration) throws {
        let resources = generation.resources.forLoop(channel.eventLoop)
        let settings = generation.settings
        let sync = channel.pipeline.syncOperations
        let gauge = resources.metrics.map {
            ConnectionGauge(metrics: $0, kind: listener.tls == nil ? .http1 : .tlsHandshake, activity: .active)
        }
        if let gauge { channel.closeFuture.assumeIsolated().whenComplete { _ in gauge.close() } }
        guard let tls = listener.tls else {
            try sync.addHandler(
                HTTP1ConnectionHandler(
                    settings: settings, resources: resources, listener: listener.role, gauge: gauge))
            return
        }
        let sni = ByteToMessageHandler(
            SNIHandler { result in
                let serverName: String? = if case .hostname(let name) = result { name } else { nil }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // In the SNI parser's place, so the ClientHello it held back reaches TLS next.
                    let parser = try sync.handler(type: ByteToMessageHandler<SNIHandler>.self)
                    try sync.addHandler(
                        NIOSSLServerHandler(context: tls.context(forServerName: serverName)), position: .after(parser))
                }
            })
        let alpn = ApplicationProtocolNegotiationHandler { result, channel in
            channel.eventLoop.makeCompletedFuture {
                if case .negotiated("h2") = result {
                    gauge?.move(to: .http2, .idle)
                    try configureHTTP2(channel, generation: generation, role: listener.role, gauge: gauge)
                } else {
                    gauge?.move(to: .http1TLS, .active)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTP1ConnectionHandler(
                            settings: settings, resources: resources, transport: .tls, listener: listener.role,
                            gauge: gauge))
                }
            }
        }
        try sync.addHandlers(
            sni,
            HandshakeTimeoutHandler(
                timeout: settings.headerTimeout, metrics: settings.metrics, loopMetrics: resources.metrics), alpn)
    }

    /// HTTP/2 settings a browser or h2load sees: streams as nginx's `http2_max_concurrent_streams`, a larger window
    /// than the 64 KiB default so uploads and large files are not throttled by round trips.
    private static func configureHTTP2(
        _ channel: any Channel,
        generation: ServingGeneration,
        role: ListenerRole,
        gauge: ConnectionGauge?
    ) throws {
        let settings = generation.settings
        // Idle connections close after the keep-alive timeout; a graceful stop sends GOAWAY and lets streams finish.
        let management = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(maxIdleTime: settings.keepaliveTimeout, maxAge: nil, maxGraceTime: nil, keepalive: nil)
        )
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        // Header blocks are checked once, by `HTTP2RequestTranslation` (which HTTP/1 text needs anyway): NIO's
        // check on top cost a tenth of a request. Content lengths stay NIO's to check.
        connection.headerBlockValidation = .disabled
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 128),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
            HTTP2Setting(parameter: .maxHeaderListSize, value: settings.maxHeaderSize),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        // What a stream may hold that the client's window does not yet let out: one DATA frame, so a file response
        // reads no further ahead than one chunk for a stream that cannot send (`ConnectionTransport.fileChunkSizes`).
        stream.outboundBufferSizeHighWatermark = 16 * 1024
        stream.outboundBufferSizeLowWatermark = 8 * 1024
        let sync = channel.pipeline.syncOperations
        let resources = generation.resources.forLoop(channel.eventLoop)
        let streams = HTTP2StreamTracker(gauge: gauge)
        // Before the HTTP/2 handler, on the bytes: a GOAWAY for an error ends the connection there, a flush's frames
        // go to it and to TLS as one write (one TLS record), and a head that does not arrive in time ends it too.
        try sync.addHandlers(
            HTTP2ErrorCloseHandler(streams: streams, resources: resources, logger: settings.logger),
            TLSWriteGatherer(),
            HTTP2HeadTimeoutHandler(timeout: settings.headerTimeout, logger: settings.logger), PlaintextCopy())
        // Behind it, frames. First the connection's management (idle close, graceful GOAWAY), which must see every
        // stream open and close; then requests carried on the connection; then a stream channel for the others.
        // The GOAWAY deadline sits between the HTTP/2 handler and the manager, to see the frames the manager writes.
        try sync.addHandlers(
            NIOHTTP2Handler(mode: .server, connectionConfiguration: connection, streamConfiguration: stream),
            GoAwayDeadlineHandler(grace: max(settings.keepaliveTimeout, settings.shutdownTimeout)), management,
            HTTP2FastPath(settings: settings, resources: resources, listener: role, streams: streams),
            HTTP2StreamMultiplexer(
                mode: .server, channel: channel, targetWindowSize: stream.targetWindowSize,
                outboundBufferSizeHighWatermark: stream.outboundBufferSizeHighWatermark,
                outboundBufferSizeLowWatermark: stream.outboundBufferSizeLowWatermark
            ) { streamChannel in
                streamChannel.eventLoop.makeCompletedFuture {
                    // Streams run on their connection's loop, so they share its caches and upstream pool.
                    let resources = generation.resources.forLoop(streamChannel.eventLoop)
                    try streamChannel.pipeline.syncOperations.addHandlers(
                        HTTP2StreamBridge(),
                        HTTP1ConnectionHandler(
                            settings: settings, resources: resources, transport: .http2Stream, listener: role))
                }
            })
        try sync.addHandler(HTTP2ErrorReasonRelay())
        // Last, once the handlers behind it are there to be told the channel is active.
        try sync.addHandler(ActivationReplayHandler(), position: .before(management))
    }
}
