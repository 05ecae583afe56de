import Foundation
import Logging
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// The master process: binds the socket once, then turns signals, worker messages, exits and a tick into
/// `ArbiterEvent`s and performs the arbiter's actions. It never serves requests.
///
/// One owner: its state (the config, the workers' handles, the arbiter) is read and written only by `run`'s loop.
/// The tasks and threads that watch signals, exits, worker messages and the clock hold none of it; they only yield
/// inputs into that loop.
final class MasterRuntime {
    /// How the master was started, for re-reading the config on HUP and for workers' command lines.
    struct Launch: Sendable {
        var configPath: String?
        var overrides: CommandLineOverrides
        var arguments: [String]
        var executable: String
    }

    private struct WorkerHandle {
        var id: Int
        var generation: Int
        var board: StatusBoard
    }

    /// What the loop is woken by: an event for the arbiter, or the 1 s tick, which the loop turns into an event by
    /// reading the workers' status boards itself.
    private enum Input: Sendable {
        case event(ArbiterEvent)
        case tick
    }

    /// Seconds since the master started, for the arbiter's clock. A value, so watchers can carry their own.
    private struct Clock: Sendable {
        let start = ContinuousClock.now

        var now: Instant {
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
    }

    private let launch: Launch
    private var config: AppServerConfig
    private let logger: Logger
    private let notifier: SystemdNotifier
    private var arbiter: Arbiter
    private var listenFD: CInt = -1
    /// The last `STATUS=` sent to systemd.
    private var lastStatus = ""
    /// The listening socket came from systemd (`LISTEN_FDS`), which owns its file.
    private var socketIsInherited = false
    private var handles: [Int32: WorkerHandle] = [:]
    private let inputs: AsyncStream<Input>
    private let continuation: AsyncStream<Input>.Continuation
    private let clock = Clock()
    private var exitCode: Int32?
    /// Seconds systemd's watchdog allows between pings (`WATCHDOG_USEC`), and when the last ping went.
    private let watchdogInterval: Instant?
    private var lastWatchdogPing: Instant = 0
    /// The metrics of the master and its workers, made when `admin` is configured.
    private let metrics: MasterMetrics?
    private var admin: AdminServer?

    init(launch: Launch, config: AppServerConfig, logger: Logger, environment: [String: String]) {
        self.launch = launch
        self.config = config
        self.logger = logger
        self.notifier = SystemdNotifier(environment: environment)
        self.watchdogInterval = SystemdNotifier.watchdogInterval(environment: environment).map {
            Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18
        }
        self.arbiter = Arbiter(settings: config.arbiterSettings)
        self.metrics = config.admin.map { _ in MasterMetrics() }
        (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
    }

    /// The arbiter's answer to `event`, counted in the metrics first.
    private func handle(_ event: ArbiterEvent) -> [ArbiterAction] {
        metrics?.observe(event, arbiter: arbiter)
        return arbiter.handle(event)
    }

    private var now: Instant { clock.now }

    /// Runs until the arbiter says to exit; returns the exit code.
    func run() async -> Int32 {
        let signals = SignalWatcher([SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGTTIN, SIGTTOU, SIGUSR1])
        do {
            // A socket systemd bound for us (appserver.socket) is used as it is: its owner, group and mode are the
            // unit's, and it stays on disk when the master exits so connections wait for the next one.
            var inherited = InheritedSockets.fromEnvironment()
            let socket = inherited.take(for: config.bind)
            if let stray = inherited.unclaimed.first {
                throw ConfigValueError("inherited socket \(stray) is not the bind address \(config.bind)")
            }
            if let socket {
                listenFD = socket.descriptor
                socketIsInherited = true
                _ = fcntl(listenFD, F_SETFL, fcntl(listenFD, F_GETFL) | O_NONBLOCK)
                logger.info("listening on an inherited socket", metadata: ["socket": "\(socket)"])
            } else {
                listenFD = try ListeningSocket.open(config.bind, mode: config.socketMode)
            }
            // Keep the socket well above the descriptor numbers workers receive it on (see ProcessSpawner).
            listenFD = moveHigh(listenFD)
        } catch {
            logger.critical("\(error)")
            return 1
        }
        logger.info(
            "listening",
            metadata: ["bind": "\(ListeningSocket.localDescription(listenFD, config.bind))", "pid": "\(getpid())"])
        for warning in config.warnings { logger.warning("\(warning)") }
        if let metrics, let address = config.admin?.listen {
            do {
                admin = try await AdminServer(
                    address: address, pages: MasterAdminPages(metrics: metrics), logger: logger)
            } catch {
                logger.critical("admin.listen \(address): \(error)")
                cleanUp()
                return 1
            }
        }
        writePidFile()
        defer { cleanUp() }

        let signalTask = Task { [continuation, clock] in
            for await number in signals.signals {
                if let signal = MasterSignal(number: number) {
                    continuation.yield(.event(.signal(signal, now: clock.now)))
                }
            }
        }
        // Exits are reaped every 100 ms (a respawn should not wait a second); the tick comes every tenth time.
        let timerTask = Task { [continuation, clock] in
            var ticks = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                MasterRuntime.reapChildren(into: continuation, clock: clock)
                ticks += 1
                if ticks % 10 == 0 { continuation.yield(.tick) }
            }
        }
        defer {
            signalTask.cancel()
            timerTask.cancel()
        }

        perform(handle(.start(now: now)))
        publishView()
        for await input in inputs {
            let event: ArbiterEvent
            switch input {
            case .event(let received): event = received
            case .tick:
                pingWatchdog()
                event = tickEvent()
            }
            if case .exited(let pid, _, _) = event, let handle = handles.removeValue(forKey: pid) {
                metrics?.workerExited(pid: pid, board: handle.board, loops: config.threadsPerWorker)
            }
            perform(handle(event))
            if let exitCode {
                await admin?.stop()
                return exitCode
            }
            reportStatus()
            publishView()
        }
        await admin?.stop()
        return exitCode ?? 0
    }

    /// Hands the admin listener the workers and figures it shows.
    private func publishView() {
        guard let metrics else { return }
        let workers = arbiter.workers.values.compactMap { worker -> WorkerView? in
            guard let pid = worker.pid, let handle = handles[pid] else { return nil }
            return WorkerView(
                pid: pid, id: worker.id, generation: worker.generation, state: WorkerView.stateName(of: worker),
                spawnedAt: worker.spawnedAt, board: handle.board)
        }
        metrics.publish(
            MasterView(
                workers: workers, generation: arbiter.generation, loopsPerWorker: config.threadsPerWorker,
                respawnDelay: arbiter.respawnDelay(now: now), statusLine: arbiter.statusLine, now: now))
    }

    /// Sends systemd the arbiter's status line when it has changed.
    private func reportStatus() {
        let status = arbiter.statusLine
        guard status != lastStatus else { return }
        lastStatus = status
        notifier.notify("STATUS=\(status)")
    }

    private func perform(_ actions: [ArbiterAction]) {
        for action in actions {
            switch action {
            case .spawn(let id, let generation):
                do {
                    let pid = try spawnWorker(id: id, generation: generation)
                    perform(handle(.spawned(id: id, pid: pid, now: now)))
                } catch {
                    perform(handle(.spawnFailed(id: id, reason: "\(error)", now: now)))
                }
            case .signal(let pid, let signal):
                kill(pid, signal.number)
            case .log(let level, let message):
                switch level {
                case .info: logger.info("\(message)")
                case .warning: logger.warning("\(message)")
                case .error: logger.error("\(message)")
                }
            case .notify(let state):
                notifier.notify(
                    state + (state.contains("RELOADING=1") ? "\nMONOTONIC_USEC=\(monotonicMicroseconds())" : ""))
            case .reloadConfig:
                perform(handle(reloadConfig()))
            case .reopenLogs:
                logger.info("USR1: reopening logs in workers")
            case .exit(let code):
                exitCode = code
                continuation.finish()
            }
        }
    }

    private func reloadConfig() -> ArbiterEvent {
        do {
            let reloaded = try AppServerConfig.load(path: launch.configPath, overrides: launch.overrides)
            if reloaded.bind != config.bind {
                logger.warning("HUP: bind changed to \(reloaded.bind); the socket is bound once, restart to move it")
            }
            if reloaded.admin != config.admin {
                logger.warning("HUP: admin changed; the admin listener is set up at start, restart to change it")
            }
            for warning in reloaded.warnings { logger.warning("HUP: \(warning)") }
            config = reloaded
            return .configReloaded(reloaded.arbiterSettings, now: now)
        } catch {
            return .configInvalid(reason: "\(error)".replacingOccurrences(of: "\n", with: "; "), now: now)
        }
    }

    private func spawnWorker(id: Int, generation: Int) throws -> Int32 {
        let boardFD = try StatusBoard.create()
        defer { close(boardFD) }
        let board = try StatusBoard(descriptor: boardFD)
        var pipeFDs: [CInt] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw ProcessSpawner.SpawnError(reason: "pipe: \(Errno(errno))") }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
        let highWrite = moveHigh(writeEnd)
        let highBoard = fcntl(boardFD, F_DUPFD_CLOEXEC, 64)
        defer {
            close(highWrite)
            close(highBoard)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = nil  // only the master talks to systemd
        environment["APPSERVER_GENERATION"] = String(generation)
        environment["APPSERVER_MASTER_PID"] = String(getpid())
        let pid: pid_t
        do {
            pid = try ProcessSpawner.spawn(
                executable: launch.executable, arguments: ["--worker"] + launch.arguments, environment: environment,
                inherit: [
                    (listenFD, ProcessSpawner.listenerFD), (highWrite, ProcessSpawner.messagesFD),
                    (highBoard, ProcessSpawner.statusFD),
                ])
        } catch {
            close(readEnd)
            throw error
        }
        handles[pid] = WorkerHandle(id: id, generation: generation, board: board)
        logger.info("spawned worker", metadata: ["worker": "\(pid)", "generation": "\(generation)"])
        readMessages(from: readEnd, pid: pid)
        return pid
    }

    /// One thread per worker reads its messages (`ready`, `retiring`) until the worker closes the pipe.
    private func readMessages(from fd: CInt, pid: Int32) {
        let (continuation, clock) = (self.continuation, self.clock)
        let thread = Thread {
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            var pending = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    switch line {
                    case "ready": continuation.yield(.event(.ready(pid: pid, now: clock.now)))
                    case "retiring": continuation.yield(.event(.retiring(pid: pid, now: clock.now)))
                    default: break
                    }
                }
            }
        }
        thread.start()
    }

    private static func reapChildren(into continuation: AsyncStream<Input>.Continuation, clock: Clock) {
        while true {
            var status: CInt = 0
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            let exit: WorkerExit =
                status & 0x7F == 0 ? .exited(code: (status >> 8) & 0xFF) : .signalled(signal: status & 0x7F)
            continuation.yield(.event(.exited(pid: pid, exit, now: clock.now)))
        }
    }

    /// `WATCHDOG=1` from the master's own loop, at most every half interval: a master whose loop stops (blocked,
    /// or busy for good) stops pinging, and systemd restarts the service. Ticks come once a second, so the
    /// watchdog needs `WatchdogSec=` of 2 s or more.
    private func pingWatchdog() {
        guard let interval = watchdogInterval, now - lastWatchdogPing >= interval / 2 else { return }
        lastWatchdogPing = now
        notifier.notify("WATCHDOG=1")
    }

    private func tickEvent() -> ArbiterEvent {
        var beats: [Int32: UInt64] = [:]
        var requests: [Int32: String] = [:]
        for (pid, handle) in handles {
            beats[pid] = handle.board.heartbeat(loops: config.threadsPerWorker)
            requests[pid] = handle.board.currentRequest
        }
        return .tick(now: now, heartbeats: beats, requests: requests)
    }

    private func moveHigh(_ fd: CInt) -> CInt {
        let high = fcntl(fd, F_DUPFD_CLOEXEC, 64)
        guard high >= 0 else { return fd }
        close(fd)
        return high
    }

    private func writePidFile() {
        guard let path = config.pidFile else { return }
        do {
            try "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            logger.error("cannot write pid file \(path): \(error)")
        }
    }

    private func cleanUp() {
        if case .unix(let path) = config.bind, !socketIsInherited { unlink(path) }
        if let path = config.pidFile { unlink(path) }
        if listenFD >= 0 { close(listenFD) }
    }

    private func monotonicMicroseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec) / 1000
    }
}

extension MasterSignal {
    init?(number: Int32) {
        switch number {
        case SIGHUP: self = .hup
        case SIGTERM: self = .term
        case SIGINT: self = .int
        case SIGQUIT: self = .quit
        case SIGTTIN: self = .ttin
        case SIGTTOU: self = .ttou
        case SIGUSR1: self = .usr1
        default: return nil
        }
    }
}

extension WorkerSignal {
    var number: Int32 {
        switch self {
        case .term: SIGTERM
        case .quit: SIGQUIT
        case .usr1: SIGUSR1
        case .abort: SIGABRT
        case .kill: SIGKILL
        }
    }
}
