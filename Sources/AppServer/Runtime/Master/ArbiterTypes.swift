/// Monotonic seconds, injected so the arbiter can be tested with a fake clock.
typealias Instant = Double

/// Process signals the master reacts to (a closed set, so the arbiter does not depend on signal numbers).
enum MasterSignal: String, Sendable, Hashable {
    case hup = "HUP", term = "TERM", int = "INT", quit = "QUIT", ttin = "TTIN", ttou = "TTOU", usr1 = "USR1"
}

/// Signals the master sends to workers.
enum WorkerSignal: String, Sendable, Hashable {
    /// Graceful stop.
    case term = "TERM"
    /// Fast stop.
    case quit = "QUIT"
    /// Reopen log files.
    case usr1 = "USR1"
    /// A worker that stopped heartbeating: abort (core dump, backtrace), then kill.
    case abort = "ABRT"
    case kill = "KILL"
}

/// How a worker process ended.
enum WorkerExit: Hashable, Sendable, CustomStringConvertible {
    case exited(code: Int32)
    case signalled(signal: Int32)

    /// Exit code of a worker that could not boot (bind, runtime set-up).
    static let bootFailureCode: Int32 = 3
    /// Exit code of a worker whose app failed to load (its `init` or `boot(settings:)` threw).
    static let appLoadFailureCode: Int32 = 4

    var description: String {
        switch self {
        case .exited(let code) where code == Self.bootFailureCode: "exit code \(code) (worker failed to boot)"
        case .exited(let code) where code == Self.appLoadFailureCode: "exit code \(code) (app failed to load)"
        case .exited(let code): "exit code \(code)"
        case .signalled(let signal): "signal \(signal)" + Self.meaning(ofSignal: signal)
        }
    }

    /// The name of the signals a crashed worker usually dies of, and what a Swift trap looks like.
    private static func meaning(ofSignal signal: Int32) -> String {
        switch signal {
        case 9: " (SIGKILL)"
        case 6: " (SIGABRT)"
        case 11: " (SIGSEGV)"
        case 4: " (SIGILL: a Swift trap)"
        case 5: " (SIGTRAP: a Swift trap)"
        default: ""
        }
    }
}

/// Why a worker ended: the `cause` label of `appserver_worker_exits_total`.
enum WorkerExitCause: String, CaseIterable, Sendable {
    /// It died without being asked to (a crash, a trap, an unexpected exit).
    case crash
    /// It stopped heartbeating and was aborted (then killed if it lingered).
    case heartbeatTimeout = "heartbeat_timeout"
    /// It reached `max_requests` and was replaced.
    case maxRequests = "max_requests"
    /// Its generation was replaced by a reload (HUP), or a new generation was abandoned.
    case reload
    /// TTOU took a worker away.
    case scaleDown = "scale_down"
    /// The master is stopping.
    case shutdown
    /// It could not boot (the runtime, or the app's `boot`), or died before it was ready.
    case bootFailure = "boot_failure"
}

/// What the arbiter asks the executor to do.
enum ArbiterAction: Hashable, Sendable {
    /// Start worker `id` of `generation` (the executor reports `.spawned` or `.spawnFailed`).
    case spawn(id: Int, generation: Int)
    case signal(pid: Int32, WorkerSignal)
    case log(LogLevel, String)
    /// Send these `sd_notify` assignments.
    case notify(String)
    /// Re-read the config file (for a HUP); the executor answers with `.configReloaded` or `.configInvalid`.
    case reloadConfig
    case reopenLogs
    /// Stop the master with this exit code.
    case exit(code: Int32)

    enum LogLevel: String, Hashable, Sendable { case info, warning, error }
}

/// The settings the arbiter decides with.
struct ArbiterSettings: Hashable, Sendable {
    var workers: Int
    /// A worker silent this long is aborted.
    var timeout: Double
    /// How long stopping workers may take before they are killed.
    var gracefulTimeout: Double

    init(workers: Int, timeout: Double, gracefulTimeout: Double) {
        self.workers = workers
        self.timeout = timeout
        self.gracefulTimeout = gracefulTimeout
    }
}

/// Everything that happens to the master, merged into one stream.
enum ArbiterEvent: Hashable, Sendable {
    case start(now: Instant)
    case signal(MasterSignal, now: Instant)
    case spawned(id: Int, pid: Int32, now: Instant)
    case spawnFailed(id: Int, reason: String, now: Instant)
    case ready(pid: Int32, now: Instant)
    /// The worker reached `max_requests` and asks to be replaced.
    case retiring(pid: Int32, now: Instant)
    case exited(pid: Int32, WorkerExit, now: Instant)
    /// The 1 s tick, with each worker's heartbeat counter and the request it is serving, if any.
    case tick(now: Instant, heartbeats: [Int32: UInt64], requests: [Int32: String])
    case configReloaded(ArbiterSettings, now: Instant)
    case configInvalid(reason: String, now: Instant)
}
