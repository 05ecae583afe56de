import NIOConcurrencyHelpers

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
    private let destination: LogDestination
    private let descriptor: NIOLockedValueBox<CInt>

    /// Opens `destination`; throws naming the file when it cannot be opened.
    public init(destination: LogDestination) throws {
        self.destination = destination
        self.descriptor = NIOLockedValueBox(try Self.open(destination))
    }

    /// Whether lines are wanted at all.
    public var isEnabled: Bool { destination != .off }

    /// Writes `bytes` completely (retrying short writes), dropping them only if the file is gone for good.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        descriptor.withLockedValue { fd in
            guard fd >= 0 else { return }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// Reopens the log file (after logrotate moved it); keeps the old descriptor if the new open fails.
    public func reopen() throws {
        guard case .file = destination else { return }
        let newDescriptor = try Self.open(destination)
        descriptor.withLockedValue { fd in
            close(fd)
            fd = newDescriptor
        }
    }

    private static func open(_ destination: LogDestination) throws -> CInt {
        switch destination {
        case .off: return -1
        case .standardOutput: return STDOUT_FILENO
        case .file(let path):
            let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw ConfigValueError("cannot open access log \(path): \(String(cString: strerror(errno)))") }
            return fd
        }
    }
}
