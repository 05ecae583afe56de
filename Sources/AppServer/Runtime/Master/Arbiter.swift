/// The master's decisions as a pure state machine: events in, actions out, no processes, no clock.
///
/// After gunicorn's arbiter, without its globals: every decision about spawning, replacing, reloading and stopping
/// workers is made here, so each can be tested with an injected clock (see `ArbiterTests`).
struct Arbiter: Sendable {
    enum Phase: Equatable, Sendable {
        case running
        /// A HUP is starting `generation`; the old generation serves until it is ready.
        case reloading(generation: Int)
        /// Stopping; remaining workers are killed at `deadline`, or were (`nil`): only their exits are awaited.
        case stopping(graceful: Bool, deadline: Instant?)
        case exited
    }

    enum WorkerState: Equatable, Sendable {
        case spawning
        case booting
        case ready
        /// Told to stop at `since` (graceful TERM, or QUIT on a fast stop).
        case stopping(since: Instant)
        /// Aborted for silence at `since`; killed if still there after `abortGrace`.
        case aborting(since: Instant)
        /// Sent SIGKILL (it did not stop or abort in time): only its exit is awaited.
        case killed
    }

    struct Worker: Equatable, Sendable {
        var id: Int
        var pid: Int32?
        var generation: Int
        var state: WorkerState
        var spawnedAt: Instant
        var lastBeat: UInt64 = 0
        var lastBeatChange: Instant
        var retiring = false
        /// Aborted for silence (whether or not it then had to be killed).
        var aborted = false

        var isActive: Bool {
            switch state {
            case .spawning, .booting, .ready: !retiring
            case .stopping, .aborting, .killed: false
            }
        }
    }

    /// Seconds an aborted worker gets to dump core before SIGKILL.
    static let abortGrace: Instant = 5
    /// Longest wait between respawns of workers that keep dying at boot.
    static let maxBackoff: Instant = 30

    private(set) var settings: ArbiterSettings
    private(set) var phase: Phase = .running
    private(set) var generation = 1
    private(set) var workers: [Int: Worker] = [:]
    private var nextID = 1
    private var reportedReady = false
    private var consecutiveBootFailures = 0
    private var respawnNotBefore: Instant = 0

    init(settings: ArbiterSettings) {
        self.settings = settings
    }

    /// Workers currently counted as serving or about to serve.
    var activeWorkers: [Worker] { workers.values.filter(\.isActive).sorted { $0.id < $1.id } }

    /// What `systemctl status` shows (systemd's `STATUS=`): the phase, the generation, and the workers by state.
    var statusLine: String {
        let ready = workers.values.filter { $0.state == .ready && !$0.retiring }.count
        let booting = workers.values.filter { ($0.state == .spawning || $0.state == .booting) && !$0.retiring }.count
        let leaving = workers.values.filter { $0.retiring || !$0.isActive }.count
        var counts = "\(ready) of \(settings.workers) workers ready"
        if booting > 0 { counts += ", \(booting) booting" }
        if leaving > 0 { counts += ", \(leaving) leaving" }
        switch phase {
        case .running: return "serving generation \(generation): \(counts)"
        case .reloading(let next): return "reloading to generation \(next): \(counts)"
        case .stopping: return "stopping: \(counts)"
        case .exited: return "stopped"
        }
    }

    /// Why worker `pid` ended with `exit`, for `appserver_worker_exits_total`; asked before the exit is handled.
    /// `nil` for a pid that is not a worker.
    func exitCause(of pid: Int32, _ exit: WorkerExit) -> WorkerExitCause? {
        guard let worker = workers.values.first(where: { $0.pid == pid }) else { return nil }
        if exit == .exited(code: WorkerExit.bootFailureCode) || exit == .exited(code: WorkerExit.appLoadFailureCode) {
            return .bootFailure
        }
        if worker.aborted { return .heartbeatTimeout }
        switch worker.state {
        case .spawning, .booting: return .bootFailure
        case .ready, .aborting: return .crash
        case .stopping, .killed:
            if case .stopping = phase { return .shutdown }
            if worker.retiring { return .maxRequests }
            if case .reloading(let next) = phase, worker.generation == next { return .reload }  // a reload abandoned
            return worker.generation != generation ? .reload : .scaleDown
        }
    }

    /// Seconds until the next respawn is allowed, after workers that kept dying at boot; 0 when not backing off.
    func respawnDelay(now: Instant) -> Instant {
        max(0, respawnNotBefore - now)
    }

    mutating func handle(_ event: ArbiterEvent) -> [ArbiterAction] {
        guard phase != .exited else { return [] }
        switch event {
        case .start(let now):
            return [.notify("STATUS=starting \(settings.workers) workers")]
                + (0..<settings.workers).map { _ in spawn(now: now) }
        case .signal(let signal, let now):
            return handleSignal(signal, now: now)
        case .spawned(let id, let pid, let now):
            guard var worker = workers[id] else { return [.signal(pid: pid, .kill)] }
            worker.pid = pid
            worker.state = worker.state == .spawning ? .booting : worker.state
            worker.lastBeatChange = now
            workers[id] = worker
            return []
        case .spawnFailed(let id, let reason, let now):
            workers[id] = nil
            return [.log(.error, "cannot start worker: \(reason)")] + bootFailed(now: now)
        case .ready(let pid, let now):
            return workerReady(pid: pid, now: now)
        case .retiring(let pid, let now):
            guard let id = id(of: pid), workers[id]?.state == .ready, !(workers[id]?.retiring ?? true) else {
                return []
            }
            workers[id]!.retiring = true
            guard phase == .running else { return [] }
            return [.log(.info, "worker \(pid) reached max_requests; starting its replacement"), spawn(now: now)]
        case .exited(let pid, let exit, let now):
            return workerExited(pid: pid, exit: exit, now: now)
        case .tick(let now, let heartbeats, let requests):
            return tick(now: now, heartbeats: heartbeats, requests: requests)
        case .configReloaded(let newSettings, let now):
            return startNewGeneration(newSettings, now: now)
        case .configInvalid(let reason, _):
            return [
                .log(.error, "HUP: new configuration refused, keeping the running one: \(reason)"),
                .notify("READY=1\nSTATUS=reload refused: bad configuration"),
            ]
        }
    }

    // MARK: - Signals

    private mutating func handleSignal(_ signal: MasterSignal, now: Instant) -> [ArbiterAction] {
        if case .stopping(let graceful, _) = phase {
            // A second INT/QUIT during a graceful stop turns it into a fast one.
            guard graceful, signal == .int || signal == .quit else { return [] }
            return stop(graceful: false, now: now)
        }
        switch signal {
        case .term:
            return stop(graceful: true, now: now)
        case .int, .quit:
            return stop(graceful: false, now: now)
        case .hup:
            guard phase == .running else { return [.log(.warning, "HUP ignored: a reload is already in progress")] }
            return [.log(.info, "HUP received: reloading"), .notify("RELOADING=1"), .reloadConfig]
        case .ttin:
            settings.workers += 1
            return [.log(.info, "TTIN: workers now \(settings.workers)"), spawn(now: now)]
        case .ttou:
            guard settings.workers > 1,
                let oldest = activeWorkers.first(where: { $0.state == .ready }) ?? activeWorkers.first
            else {
                return [.log(.warning, "TTOU ignored: at least one worker must remain")]
            }
            settings.workers -= 1
            return [.log(.info, "TTOU: workers now \(settings.workers)")] + stopWorker(oldest.id, now: now)
        case .usr1:
            return [.reopenLogs] + workers.values.compactMap { $0.pid.map { .signal(pid: $0, .usr1) } }
        }
    }

    private mutating func stop(graceful: Bool, now: Instant) -> [ArbiterAction] {
        phase = .stopping(graceful: graceful, deadline: now + (graceful ? settings.gracefulTimeout : 2))
        var actions: [ArbiterAction] = [
            .notify("STOPPING=1"),
            .log(
                .info,
                graceful
                    ? "TERM: stopping workers gracefully (up to \(Int(settings.gracefulTimeout))s)"
                    : "stopping workers now"),
        ]
        for id in workers.keys.sorted() {
            guard let pid = workers[id]?.pid else { continue }
            workers[id]!.state = .stopping(since: now)
            actions.append(.signal(pid: pid, graceful ? .term : .quit))
        }
        return actions + exitIfDone()
    }

    private mutating func exitIfDone() -> [ArbiterAction] {
        guard case .stopping = phase, workers.values.allSatisfy({ $0.pid == nil && $0.state != .booting }) else {
            return []
        }
        phase = .exited
        return [.log(.info, "all workers stopped"), .exit(code: exitCode)]
    }

    private var exitCode: Int32 = 0

    // MARK: - Workers

    private mutating func spawn(now: Instant) -> ArbiterAction {
        let id = nextID
        nextID += 1
        workers[id] = Worker(
            id: id, pid: nil, generation: targetGeneration, state: .spawning, spawnedAt: now, lastBeatChange: now)
        return .spawn(id: id, generation: targetGeneration)
    }

    /// New workers belong to the generation being started during a reload.
    private var targetGeneration: Int {
        if case .reloading(let next) = phase { return next }
        return generation
    }

    private mutating func stopWorker(_ id: Int, now: Instant) -> [ArbiterAction] {
        guard let pid = workers[id]?.pid else {
            workers[id] = nil
            return []
        }
        workers[id]!.state = .stopping(since: now)
        return [.signal(pid: pid, .term)]
    }

    private func id(of pid: Int32) -> Int? {
        workers.first { $0.value.pid == pid }?.key
    }

    private mutating func workerReady(pid: Int32, now: Instant) -> [ArbiterAction] {
        guard let id = id(of: pid), workers[id]?.state == .booting else { return [] }
        workers[id]!.state = .ready
        workers[id]!.lastBeatChange = now
        consecutiveBootFailures = 0
        var actions: [ArbiterAction] = []
        switch phase {
        case .reloading(let next):
            let readyNew = workers.values.filter { $0.generation == next && $0.state == .ready }.count
            guard readyNew >= settings.workers else { return [] }
            // The new generation serves: only now do the old workers stop (they finish what they are doing).
            actions.append(.log(.info, "generation \(next) ready; stopping generation \(generation)"))
            for old in workers.values.filter({ $0.generation != next }).sorted(by: { $0.id < $1.id }) {
                actions += stopWorker(old.id, now: now)
            }
            generation = next
            phase = .running
            actions.append(.notify("READY=1\nSTATUS=serving (generation \(next))"))
        case .running:
            if !reportedReady && workers.values.filter({ $0.state == .ready }).count >= settings.workers {
                reportedReady = true
                actions.append(.log(.info, "ready: \(settings.workers) workers serving"))
                actions.append(.notify("READY=1\nSTATUS=serving"))
            }
            // A replacement is ready: the worker it replaces may leave now.
            let retiring = workers.values.filter { $0.retiring && $0.state == .ready }.sorted { $0.id < $1.id }
            if let leaving = retiring.first, activeWorkers.filter({ $0.state == .ready }).count >= settings.workers {
                actions += stopWorker(leaving.id, now: now)
            }
        case .stopping:
            actions.append(.signal(pid: pid, .term))
            workers[id]!.state = .stopping(since: now)
        case .exited:
            break
        }
        return actions
    }

    private mutating func workerExited(pid: Int32, exit: WorkerExit, now: Instant) -> [ArbiterAction] {
        guard let id = id(of: pid), let worker = workers[id] else { return [] }
        workers[id] = nil
        if case .stopping = phase { return exitIfDone() }
        let expected: Bool
        switch worker.state {
        case .stopping, .aborting, .killed: expected = true
        default: expected = false
        }
        let name = "worker \(pid) (generation \(worker.generation))"
        var actions: [ArbiterAction] = []
        if exit == .exited(code: WorkerExit.bootFailureCode) || exit == .exited(code: WorkerExit.appLoadFailureCode) {
            if case .reloading(let next) = phase, worker.generation == next {
                return abandonReload(generation: next, reason: "\(name) failed: \(exit)", now: now)
            }
            exitCode =
                exit == .exited(code: WorkerExit.bootFailureCode)
                ? WorkerExit.bootFailureCode : WorkerExit.appLoadFailureCode
            return [.log(.error, "\(name) failed: \(exit); stopping AppServer (a respawn would fail the same way)")]
                + stop(graceful: true, now: now)
        }
        if expected {
            actions.append(.log(.info, "\(name) exited (\(exit))"))
        } else {
            actions.append(.log(.error, "\(name) died: \(exit); replacing it"))
            if worker.state == .booting || worker.state == .spawning {
                actions += bootFailed(now: now)
                return actions
            }
        }
        if case .reloading(let next) = phase, worker.generation == next {
            return actions + abandonReload(generation: next, reason: "\(name) died while starting: \(exit)", now: now)
        }
        return actions + refill(now: now)
    }

    /// A new generation that cannot start is stopped; the old one keeps serving (no outage from a bad deploy).
    private mutating func abandonReload(generation next: Int, reason: String, now: Instant) -> [ArbiterAction] {
        phase = .running
        var actions: [ArbiterAction] = [
            .log(.error, "reload failed, generation \(generation) keeps serving: \(reason)"),
            .notify("READY=1\nSTATUS=reload failed; serving generation \(generation)"),
        ]
        for worker in workers.values.filter({ $0.generation == next }) {
            actions += stopWorker(worker.id, now: now)
        }
        return actions + refill(now: now)
    }

    private mutating func bootFailed(now: Instant) -> [ArbiterAction] {
        consecutiveBootFailures += 1
        let delay = min(Self.maxBackoff, 0.1 * Double(1 << min(consecutiveBootFailures, 10)))
        respawnNotBefore = now + delay
        return [.log(.warning, "\(consecutiveBootFailures) worker start(s) failed in a row; next attempt in \(delay)s")]
    }

    /// Starts workers until `settings.workers` are active, unless backing off.
    private mutating func refill(now: Instant) -> [ArbiterAction] {
        guard phase == .running, now >= respawnNotBefore else { return [] }
        let missing = settings.workers - activeWorkers.count
        return missing > 0 ? (0..<missing).map { _ in spawn(now: now) } : []
    }

    private mutating func startNewGeneration(_ newSettings: ArbiterSettings, now: Instant) -> [ArbiterAction] {
        guard phase == .running else { return [] }
        settings = newSettings
        let next = generation + 1
        phase = .reloading(generation: next)
        return [.log(.info, "starting generation \(next) (\(settings.workers) workers)")]
            + (0..<settings.workers).map { _ in spawn(now: now) }
    }

    // MARK: - Tick

    private mutating func tick(
        now: Instant,
        heartbeats: [Int32: UInt64],
        requests: [Int32: String]
    ) -> [ArbiterAction] {
        var actions: [ArbiterAction] = []
        for id in workers.keys.sorted() {
            guard var worker = workers[id], let pid = worker.pid else { continue }
            if let beat = heartbeats[pid], beat != worker.lastBeat {
                worker.lastBeat = beat
                worker.lastBeatChange = now
            }
            switch worker.state {
            case .booting, .ready:
                let silent = now - worker.lastBeatChange
                if silent >= settings.timeout {
                    let serving = requests[pid].map { " while serving \($0)" } ?? ""
                    let named = "worker \(pid) (generation \(worker.generation))"
                    actions.append(.log(.error, "\(named) silent for \(Int(silent))s\(serving); aborting it"))
                    actions.append(.signal(pid: pid, .abort))
                    worker.state = .aborting(since: now)
                    worker.aborted = true
                }
            case .aborting(let since) where now - since >= Self.abortGrace:
                actions.append(.signal(pid: pid, .kill))
                worker.state = .killed
            case .stopping(let since) where now - since >= settings.gracefulTimeout:
                actions.append(.log(.warning, "worker \(pid) did not stop within graceful_timeout; killing it"))
                actions.append(.signal(pid: pid, .kill))
                worker.state = .killed
            default:
                break
            }
            workers[id] = worker
        }
        if case .stopping(_, let deadline?) = phase, now >= deadline {
            for id in workers.keys.sorted() {
                guard let pid = workers[id]?.pid, workers[id]?.state != .killed else { continue }
                actions.append(.signal(pid: pid, .kill))
                workers[id]?.state = .killed
            }
            phase = .stopping(graceful: false, deadline: nil)
        }
        return actions + refill(now: now)
    }
}
