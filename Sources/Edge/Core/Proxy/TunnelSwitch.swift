import Logging
import NIOCore
import Shared

/// An upgrade (WebSocket) that the upstream accepted with `101 Switching Protocols`: the client gets the upstream's
/// answer, then the client connection and that upstream connection become a byte tunnel and the HTTP handler leaves
/// the client's pipeline.
struct TunnelSwitch {
    let upstream: UpstreamConnection
    let requestID: String
    let settings: ConnectionSettings

    /// The client's 101: the upstream's fields minus hop-by-hop ones, plus Edge's own.
    func switchingProtocolsHead(
        _ upstreamHead: ResponseHead, dateLine: ByteBuffer, hstsHeaderLine: ByteBuffer?, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var head = allocator.buffer(capacity: 512)
        head.writeStaticString("HTTP/1.1 101 Switching Protocols\r\nServer: edge\r\n")
        head.writeImmutableBuffer(dateLine)
        // The app's own HSTS policy, if it sends one, wins over the listener's.
        if let hsts = hstsHeaderLine, upstreamHead.headers.first("strict-transport-security") == nil {
            head.writeImmutableBuffer(hsts)
        }
        ProxyHeaders.writeClientResponseFields(upstreamHead, into: &head)
        head.writeString("Connection: upgrade\r\nUpgrade: \(upstreamHead.headers.first("upgrade") ?? "")\r\n")
        head.writeString("X-Request-ID: \(requestID)\r\n\r\n")
        return head
    }

    /// Puts a tunnel in place of `handler` in the client's pipeline, with the bytes that came after the upgrade
    /// request (`unparsed`). Called on the tick after the 101, outside the upstream decoder's callback: a decoder
    /// cannot leave its pipeline while it is decoding. `context` is `nil` when the client left before the switch.
    func connect(
        client context: ChannelHandlerContext?, replacing handler: any RemovableChannelHandler, unparsed: ByteBuffer
    ) {
        guard let context else {
            upstream.channel.close(promise: nil)
            return
        }
        let (server, requestID) = (upstream.server, requestID)
        let (clientSide, upstreamSide) = TunnelHandler.pair(
            on: context.eventLoop, idleTimeout: settings.upstreamResponseTimeout
        ) { [settings] in
            settings.logger.info(
                "closing a tunnel silent both ways for timeouts.upstream_response",
                metadata: ["request_id": "\(requestID)", "upstream": "\(server)"])
        }
        do {
            // The client side first, so bytes the upstream sent right after its 101 have somewhere to go.
            try context.pipeline.syncOperations.addHandler(clientSide, position: .after(handler))
            try upstream.becomeTunnel(upstreamSide)
            clientSide.forwardToPartner(unparsed)
            context.pipeline.syncOperations.removeHandler(handler, promise: nil)
        } catch {
            settings.logger.error(
                "cannot set up the upgrade tunnel", metadata: ["error": "\(error)", "request_id": "\(requestID)"])
            upstream.channel.close(promise: nil)
            context.close(promise: nil)
        }
    }
}
