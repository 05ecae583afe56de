import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Delivers process signals as an async sequence, including the ones swift-service-lifecycle does not list
/// (TTIN, TTOU) that AppServer's master needs.
///
/// The signals' default action is replaced by "ignore" and a dispatch source observes them, so nothing runs in
/// signal-handler context. Children started with `posix_spawn` must get their dispositions reset (ignored signals
/// survive `exec`); `ProcessSpawner` does that.
public final class SignalWatcher: @unchecked Sendable {  // sources are only touched in init and deinit
    public let signals: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    /// Starts watching `numbers` (e.g. `SIGTERM`).
    public init(_ numbers: [Int32]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        signals = stream
        let queue = DispatchQueue(label: "signals")
        sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}

/// Signal numbers by name, for log lines.
public func signalName(_ number: Int32) -> String {
    switch number {
    case SIGHUP: "HUP"
    case SIGINT: "INT"
    case SIGQUIT: "QUIT"
    case SIGTERM: "TERM"
    case SIGUSR1: "USR1"
    case SIGTTIN: "TTIN"
    case SIGTTOU: "TTOU"
    case SIGKILL: "KILL"
    case SIGABRT: "ABRT"
    default: "signal \(number)"
    }
}
