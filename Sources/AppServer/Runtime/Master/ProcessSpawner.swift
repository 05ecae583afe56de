import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts worker processes with `posix_spawn` (never `fork` of a multi-threaded Swift process), passing the
/// listening socket, the status board and the message pipe as descriptors 3, 4 and 5.
enum ProcessSpawner {
    /// Descriptor numbers as the worker sees them.
    static let listenerFD: CInt = 3
    static let messagesFD: CInt = 4
    static let statusFD: CInt = 5

    /// Spawns `executable` with `arguments`; returns its pid.
    static func spawn(
        executable: String, arguments: [String], environment: [String: String], inherit: [(from: CInt, to: CInt)]
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (from, to) in inherit {
            // dup2 clears FD_CLOEXEC on the copy; when from == to it would be a no-op that keeps CLOEXEC.
            precondition(from != to, "inherited descriptors must be moved to their slot")
            posix_spawn_file_actions_adddup2(&actions, from, to)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The master ignores the signals it watches; ignored dispositions survive exec, so reset them all, and
        // start with an empty signal mask.
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError(reason: "posix_spawn \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    struct SpawnError: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}
