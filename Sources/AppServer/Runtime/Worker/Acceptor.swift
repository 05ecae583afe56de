import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// Accepts connections on the socket inherited from the master, on a thread of its own, and hands each one to an
/// event loop.
///
/// NIO's server channel assumes a readable listening socket always yields a connection; with one socket shared
/// by several worker processes, all of them wake and all but one find nothing (NIO asserts on that in debug
/// builds). Accepting here with `poll` + non-blocking `accept` treats those wake-ups as the normal case, and
/// stopping is just waking this thread: the shared socket itself is never touched, so other generations keep
/// accepting during a reload.
final class Acceptor: @unchecked Sendable {  // the thread owns its state; `stop` only writes to the wake pipe
    private let listenFD: CInt
    private let wakePipe: (read: CInt, write: CInt)
    private let handOff: @Sendable (CInt) -> Void
    private let logger: Logger
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    /// Running out of descriptors usually lasts: said once a second (only the accept thread touches this).
    private var shortageWarnings = WarningThrottle()

    /// Accepts on `listenFD`, calling `handOff` with each connected descriptor (ownership passes with it).
    init(listenFD: CInt, logger: Logger, handOff: @escaping @Sendable (CInt) -> Void) throws {
        var fds: [CInt] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw ProcessSpawner.SpawnError(reason: "pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        self.listenFD = listenFD
        self.wakePipe = (fds[0], fds[1])
        self.handOff = handOff
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in
            acceptLoop()
            finished.signal()
        }
        thread.name = "acceptor"
        self.thread = thread
        thread.start()
    }

    /// Stops accepting and returns once the accept thread has handed off its last connection; connections
    /// already handed off are not affected.
    func stop() {
        var byte: UInt8 = 1
        _ = write(wakePipe.write, &byte, 1)
        if thread != nil { _ = finished.wait(timeout: .now() + 2) }
    }

    private func acceptLoop() {
        var descriptors = [
            pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            descriptors[0].revents = 0
            descriptors[1].revents = 0
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("poll on the listening socket failed: \(String(cString: strerror(errno)))")
                return
            }
            if descriptors[1].revents != 0 { return }
            // Take everything queued; EAGAIN means another worker was faster, which is fine.
            while true {
                let connection = accept(listenFD, nil, nil)
                if connection >= 0 {
                    _ = fcntl(connection, F_SETFL, fcntl(connection, F_GETFL) | O_NONBLOCK)
                    _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                    handOff(connection)
                    continue
                }
                switch errno {
                case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED: break
                case EMFILE, ENFILE:
                    if shortageWarnings.note() != nil {
                        logger.error("out of file descriptors; pausing accept for 100ms (raise LimitNOFILE)")
                    }
                    usleep(100_000)
                default:
                    logger.error("accept failed: \(String(cString: strerror(errno)))")
                }
                break
            }
        }
    }
}
