import NIOCore
import NIOSSL

/// Where to close a connection that does not deserve a TLS close: the TLS handler's own close sends close_notify and
/// waits up to its shutdown timeout (5 s) for the client's, which a client that broke the protocol or stalled will
/// not send. Closing at TLS's own context closes the socket beneath it.
enum TLSBypass {
    static func transportContext(of context: ChannelHandlerContext) -> ChannelHandlerContext {
        (try? context.pipeline.syncOperations.context(handlerType: NIOSSLServerHandler.self)) ?? context
    }
}
