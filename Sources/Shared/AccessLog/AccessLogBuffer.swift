import NIOCore

/// One event loop's pending access log lines, handed to the shared sink in batches.
///
/// Batching turns one `write(2)` per request into one per 32 KiB or per second (like nginx's
/// `access_log ... buffer=32k flush=1s`), which matters at tens of thousands of requests per second.
public final class AccessLogBuffer {
    private var sink: AccessLogSink
    private var format: AccessLogFormat
    private var pending: ByteBuffer
    private let flushThreshold = 32 * 1024

    /// A buffer feeding `sink` with lines in `format`.
    public init(sink: AccessLogSink, format: AccessLogFormat) {
        self.sink = sink
        self.format = format
        self.pending = ByteBufferAllocator().buffer(capacity: 40 * 1024)
    }

    /// Whether logging is on (callers skip building entries otherwise).
    public var isEnabled: Bool { sink.isEnabled }

    /// Adds one line, flushing when the batch is full.
    public func append(_ entry: AccessLogEntry) {
        guard sink.isEnabled else { return }
        AccessLogFormatter.write(entry, format: format, into: &pending)
        if pending.readableBytes >= flushThreshold { flush() }
    }

    /// Sends the lines from now on to `sink` in `format` (a reload changed `access_log`); the pending ones go to the
    /// old sink first.
    public func switchTo(_ sink: AccessLogSink, format: AccessLogFormat) {
        flush()
        self.sink = sink
        self.format = format
    }

    /// Hands every pending line to the sink.
    public func flush() {
        guard pending.readableBytes > 0 else { return }
        pending.withUnsafeReadableBytes { sink.write($0) }
        pending.clear()
    }
}
