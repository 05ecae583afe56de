import Foundation
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// nginx's binary upgrade, on USR2: the binary on disk is started with this process's listening sockets (passed the
/// way systemd passes them, `LISTEN_FDS`), and once it is ready, this process stops accepting and drains. A new
/// binary that fails to start, or takes too long, is stopped and this one goes on serving.
///
/// The two processes never accept at the same time (NIO expects to own a listening socket, and a connection both
/// race for is one neither should drop): the new process binds the sockets without accepting and says it is ready
/// on a socket pair whose end it finds in `EDGE_UPGRADE_READY_FD`; the old one stops accepting and answers; only
/// then does the new one accept. Connections arriving meanwhile wait in the kernel's queue.
public enum BinaryUpgrade {
    /// How long the new binary has to get ready, and how long it waits for the old one to stop accepting.
    static let readinessTimeout = Duration.seconds(30)
    static let controlVariable = "EDGE_UPGRADE_READY_FD"

    public enum Outcome: Equatable, Sendable {
        case serving(pid: pid_t)
        case failed(String)
    }

    /// This process's binary, as a path: read at start (`EdgeRunner` touches it first), so an upgrade starts whatever
    /// is at that path by then, not the file the running binary was moved to.
    public static let executable: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// Starts `executable` with the same arguments and `listeners` inherited, and waits until it is ready, exits or
    /// runs out of time. Once it is ready, `stopAccepting` runs, then the new process is told to accept.
    public static func upgrade(listeners: [CInt], stopAccepting: () async -> Void) async -> Outcome {
        let child: (pid: pid_t, control: CInt)
        do {
            child = try spawn(listeners: listeners)
        } catch {
            return .failed("cannot start \(executable): \(error)")
        }
        let outcome = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: waitUntilReady(child)) }.start()
        }
        if case .serving = outcome {
            await stopAccepting()
            _ = "accept\n".withCString { write(child.control, $0, 7) }
        }
        close(child.control)
        return outcome
    }

    /// Whether this process was started by an upgrade, and so must not accept before the old process lets it.
    public static var isSuccessor: Bool { getenv(controlVariable) != nil }

    /// In a process started by an upgrade, once it is ready: tells the old process, and returns once the old one has
    /// stopped accepting (or has gone, or after `readinessTimeout`).
    public static func reportReadyAndAwaitTurn() async {
        guard let text = getenv(controlVariable).map({ String(cString: $0) }), let control = CInt(text) else { return }
        unsetenv(controlVariable)
        _ = "ready\n".withCString { write(control, $0, 6) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                var poll = pollfd(fd: control, events: Int16(POLLIN), revents: 0)
                _ = Glibc.poll(&poll, 1, CInt(readinessTimeout.components.seconds * 1000))
                close(control)
                continuation.resume()
            }.start()
        }
    }

    private static func spawn(listeners: [CInt]) throws -> (pid: pid_t, control: CInt) {
        var ends: [CInt] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw Errno(errno)
        }
        // Copies above any target number first, so placing them at 3, 4, ... cannot overwrite one not yet placed.
        let sources = (listeners + [ends[1]]).map { fcntl($0, F_DUPFD_CLOEXEC, 100) }
        defer {
            for source in sources where source >= 0 { close(source) }
            close(ends[1])
        }
        guard !sources.contains(where: { $0 < 0 }) else {
            close(ends[0])
            throw Errno(errno)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (offset, source) in sources.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, source, 3 + CInt(offset))
        }
        // Nothing else crosses: a descriptor this process did not mark close-on-exec (the socket a supervisor
        // watches for this process's exit, say) must not be held open by its successor.
        let open =
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { CInt($0) } ?? []
        for descriptor in open where descriptor >= 3 + CInt(sources.count) {
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { posix_spawn_file_actions_addclose(&actions, descriptor) }
        }
        // The shell's `exec` keeps its pid, so LISTEN_PID names the new Edge itself, as sd_listen_fds(3) wants.
        let arguments =
            ["/bin/sh", "-c", "LISTEN_PID=$$ exec \"$0\" \"$@\"", executable] + CommandLine.arguments.dropFirst()
        var environment = ProcessInfo.processInfo.environment
        // The watchdog belongs to whichever process is the service's main one: the new process pings once it is.
        environment["WATCHDOG_PID"] = nil
        environment["LISTEN_FDS"] = String(listeners.count)
        environment["LISTEN_FDNAMES"] = nil
        environment[controlVariable] = String(3 + listeners.count)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, envp)
        guard result == 0 else {
            close(ends[0])
            throw Errno(result)
        }
        return (pid, ends[0])
    }

    /// Blocks until the child writes that it is ready (`.serving`), or closes its end or exits without doing so, or
    /// the time is up (both `.failed`, the child stopped and reaped).
    private static func waitUntilReady(_ child: (pid: pid_t, control: CInt)) -> Outcome {
        var poll = pollfd(fd: child.control, events: Int16(POLLIN), revents: 0)
        let milliseconds = CInt(readinessTimeout.components.seconds * 1000)
        let answered = Glibc.poll(&poll, 1, milliseconds) == 1
        var byte: UInt8 = 0
        if answered, read(child.control, &byte, 1) == 1 { return .serving(pid: child.pid) }
        var status: CInt = 0
        // It closed its end without a word: it is exiting (or never got as far as Edge); give it a second.
        var reaped = false
        for _ in 0..<(answered ? 100 : 0) where !reaped {
            reaped = waitpid(child.pid, &status, WNOHANG) == child.pid
            if !reaped { usleep(10_000) }
        }
        guard reaped else {
            kill(child.pid, SIGKILL)
            waitpid(child.pid, &status, 0)
            let waited = answered ? "a second after it closed its end" : "\(readinessTimeout)"
            return .failed("the new binary did not get ready within \(waited); stopped it")
        }
        let exited = status & 0x7f == 0
        let reason = exited ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
        return .failed("the new binary \(reason) before it was ready")
    }
}
