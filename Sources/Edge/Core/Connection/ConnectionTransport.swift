import NIOCore

/// How a connection's bytes reach the client, which decides how files are sent and what the logs and the upstream
/// are told about the request.
public enum ConnectionTransport: Sendable, Equatable {
    /// Plain TCP or a Unix socket: file bodies go out with `sendfile`.
    case plain
    /// HTTP/1.x inside TLS: files are read in chunks, since `sendfile` cannot pass through the encryption.
    case tls
    /// One stream of an HTTP/2 connection (always inside TLS here), bridged to HTTP/1.1 by `HTTP2StreamBridge`.
    case http2Stream

    /// Whether file bodies may be handed to the kernel with `sendfile`.
    var canSendfile: Bool { self == .plain }

    /// How much of a file is read at a time where `sendfile` cannot go: the first chunk's size, and the most a chunk
    /// grows to as earlier ones leave (`FileReadingSend`). Over TLS, enough to fill several records per write. An
    /// HTTP/2 stream holds what it has read until the client's flow-control window lets it go, so there the first
    /// chunk is one DATA frame: a stream the client keeps blocked holds two, about 45 KiB in all with the stream
    /// itself against nginx's 74 KiB, while a stream that sends soon reads 128 KiB at a time.
    var fileChunkSizes: ClosedRange<Int> { self == .http2Stream ? 16 * 1024...128 * 1024 : 128 * 1024...128 * 1024 }

    /// `http` or `https`, for `X-Forwarded-Proto` and the access log.
    var scheme: String { self == .plain ? "http" : "https" }
}

/// What a listener adds to every connection it accepts.
public struct ListenerRole: Sendable {
    /// `Strict-Transport-Security` for TLS listeners with `hsts` set.
    var hstsHeaderLine: ByteBuffer?
    /// Set on a plain listener with `redirect_to_https`: every request gets a 308 to https.
    var httpsRedirect: HTTPSRedirect?
    /// The listener as its log lines name it, `https://127.0.0.1:443` (with the bound port when the entry said 0):
    /// the `listener` label of Edge's metrics.
    var name = "-"
    /// `name`'s number in Edge's metrics (0 when they are off).
    var metricsID = 0

    /// A listener that adds nothing.
    public static let plain = ListenerRole()
}
