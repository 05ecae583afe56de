import NIOCore
import Shared

/// Upgrades (WebSocket): after the upstream's `101 Switching Protocols` the client connection and that upstream
/// connection become a byte tunnel, and this handler leaves the pipeline.
extension HTTP1ConnectionHandler {
    /// Answers the client's upgrade with the upstream's 101 (its fields minus hop-by-hop, plus Edge's own), logs it,
    /// and hands both connections to a tunnel on the next tick.
    func proxiedRequestUpgraded(_ upstreamHead: ResponseHead, upstream: UpstreamConnection) {
        guard let proxy else { return }
        var head = context.channel.allocator.buffer(capacity: 512)
        head.writeStaticString("HTTP/1.1 101 Switching Protocols\r\nServer: edge\r\n")
        head.writeImmutableBuffer(resources.dates.dateHeaderLine())
        // The app's own HSTS policy, if it sends one, wins over the listener's.
        if let hsts = listener.hstsHeaderLine, upstreamHead.headers.first("strict-transport-security") == nil {
            head.writeImmutableBuffer(hsts)
        }
        ProxyHeaders.writeClientResponseFields(upstreamHead, into: &head)
        head.writeString("Connection: upgrade\r\nUpgrade: \(upstreamHead.headers.first("upgrade") ?? "")\r\n")
        head.writeString("X-Request-ID: \(proxy.request.id)\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(head)), promise: nil)
        if resources.accessLog.isEnabled,
            var entry = accessLogEntry(
                for: request?.head, status: HTTPStatus(code: 101, reason: ""), facts: proxy.request.facts,
                start: request?.start ?? context.eventLoop.now, now: context.eventLoop.now)
        {
            entry.upstream = .init(
                address: upstream.server.description, status: 101, seconds: proxy.upstreamFacts.seconds)
            entry.requestID = proxy.request.id
            resources.accessLog.append(entry)
        }
        // From here on this connection is no longer HTTP: hand it to a tunnel, with anything already received.
        // The switch happens on the next tick, outside the upstream decoder's callback (a decoder cannot leave the
        // pipeline while it is decoding); bytes arriving meanwhile are kept unparsed.
        self.proxy = nil
        request = nil
        timer.cancel()
        upgrading = true
        context.eventLoop.assumeIsolated().execute { [self] in
            self.switchToTunnel(upstream: upstream, requestID: proxy.request.id)
        }
    }

    private func switchToTunnel(upstream: UpstreamConnection, requestID: String) {
        guard let context else {
            upstream.channel.close(promise: nil)  // the client left before the switch
            return
        }
        let server = upstream.server
        let (clientSide, upstreamSide) = TunnelHandler.pair(
            on: context.eventLoop, idleTimeout: settings.upstreamResponseTimeout
        ) { [settings] in
            settings.logger.info(
                "closing a tunnel silent both ways for timeouts.upstream_response",
                metadata: ["request_id": "\(requestID)", "upstream": "\(server)"])
        }
        do {
            // The client side first, so bytes the upstream sent right after its 101 have somewhere to go.
            try context.pipeline.syncOperations.addHandler(clientSide, position: .after(self))
            try upstream.becomeTunnel(upstreamSide)
            clientSide.forwardToPartner(parser.takeUnparsedBytes())
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        } catch {
            settings.logger.error(
                "cannot set up the upgrade tunnel", metadata: ["error": "\(error)", "request_id": "\(requestID)"])
            upstream.channel.close(promise: nil)
            context.close(promise: nil)
        }
    }
}
