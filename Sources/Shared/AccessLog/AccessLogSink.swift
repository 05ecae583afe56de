import Logging
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The access log's file descriptor, shared by all event loops; lines arrive in batches from `AccessLogBuffer`s.
///
/// Writes are plain blocking `write(2)` calls of whole lines (nginx does the same); the file is opened with
/// `O_APPEND` so logrotate's copy-free rename-and-reopen (USR1) works.
public final class AccessLogSink: Sendable {
    private struct State {
        var descriptor: CInt
        /// Bytes dropped: a full disk is said once a second (as nginx does), not once per batch.
        var dropped = WarningThrottle()
    }

    private let destination: LogDestination
    private let state: NIOLockedValueBox<State>
    private let logger: Logger?

    /// Opens `destination`; throws naming the file when it cannot be opened. Failed writes (a full disk) are
    /// reported to `logger`.
    public init(destination: LogDestination, logger: Logger? = nil) throws {
        self.destination = destination
        self.state = NIOLockedValueBox(State(descriptor: try Self.open(destination)))
        self.logger = logger
    }

    deinit {
        // A sink replaced by a reload closes its file once the last batch that held it is gone.
        if case .file = destination { close(state.withLockedValue { $0.descriptor }) }
    }

    /// Whether lines are wanted at all.
    public var isEnabled: Bool { destination != .off }

    /// Writes `bytes` completely (retrying short writes). Lines that cannot be written (a full disk, a vanished
    /// pipe) are dropped, and the loss is logged.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        let failure = state.withLockedValue { state -> (error: CInt, dropped: Int)? in
            guard state.descriptor >= 0 else { return nil }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(state.descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    let error = errno
                    if error == EINTR { continue }
                    return state.dropped.note(bytes.count - offset).map { (error, $0) }
                }
                offset += written
            }
            return nil
        }
        if let failure {
            logger?.error(
                "cannot write the access log; its lines are lost",
                metadata: [
                    "log": "\(destination)", "error": "\(String(cString: strerror(failure.error)))",
                    "dropped_bytes": "\(failure.dropped)",
                ])
        }
    }

    /// Reopens the log file (after logrotate moved it); keeps the old descriptor if the new open fails.
    public func reopen() throws {
        guard case .file = destination else { return }
        let newDescriptor = try Self.open(destination)
        state.withLockedValue { state in
            close(state.descriptor)
            state.descriptor = newDescriptor
        }
    }

    private static func open(_ destination: LogDestination) throws -> CInt {
        switch destination {
        case .off: return -1
        case .standardOutput: return STDOUT_FILENO
        case .file(let path):
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw ConfigValueError("cannot open access log \(path): \(String(cString: strerror(errno)))")
            }
            return fd
        }
    }
}
