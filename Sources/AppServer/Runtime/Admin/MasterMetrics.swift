import CoreMetrics
import Foundation
import NIOConcurrencyHelpers
import Shared

/// The metrics of the master and all its workers, for one scrape of the master's admin listener.
///
/// The master counts what it decides (spawns, exits by cause, reloads). Workers count their requests on their
/// status boards; each scrape (and each exit) reads the boards and adds what changed since the last read, so
/// totals survive workers that come and go, and one scrape shows all of them.
final class MasterMetrics: Sendable {
    static let descriptions: [String: MetricsRegistry.Description] = ProcessMetrics.descriptions(prefix: "appserver")
        .merging(
            [
                "appserver_workers": .init(
                    "Worker processes by state (booting, ready, retiring, stopping, aborting, killed)."),
                "appserver_worker_spawns_total": .init("Worker processes started."),
                "appserver_worker_exits_total": .init(
                    "Worker processes that ended, by cause (crash, heartbeat_timeout, max_requests, reload, scale_down, shutdown, boot_failure)."
                ),
                "appserver_worker_boot_failures_total": .init(
                    "Workers that could not start or died before they were ready."),
                "appserver_respawn_backoff_seconds": .init(
                    "Seconds until the next respawn is allowed, after workers kept failing at boot; 0 when not backing off."
                ),
                "appserver_reloads_total": .init("Reloads (HUP) by result (applied, refused)."),
                "appserver_generation": .init("The generation of workers serving now; a reload adds one."),
                "appserver_requests_total": .init("Responses of all workers by status class (1xx-5xx)."),
                "appserver_request_duration_seconds": .init(
                    "Time from a request's head to the end of its response, in the workers."),
                "appserver_requests_in_flight": .init("Requests the workers are serving now."),
                "appserver_workers_resident_memory_bytes": .init("Resident memory of all worker processes, in bytes."),
            ], uniquingKeysWith: { first, _ in first })

    let registry: MetricsRegistry
    private let process: ProcessMetrics
    private let spawns: Counter
    private let exits: [WorkerExitCause: Counter]
    private let bootFailures: Counter
    private let reloads: [Bool: Counter]
    private let workerGauges: [String: Gauge]
    private let generation: Gauge
    private let backoff: Gauge
    private let requestsByClass: [Counter]
    /// A handler, not a `Recorder`, whose `record` is generic and slow in bulk (see `EdgeMetrics`).
    private let durations: any RecorderHandler
    private let inFlight: Gauge
    private let workersMemory: Gauge
    private let view = NIOLockedValueBox(MasterView())
    /// Each live worker's board as last read, and every response counted so far.
    private let collected = NIOLockedValueBox((byPID: [Int32: WorkerRequestStats](), answered: UInt64(0)))

    init() {
        let registry = MetricsRegistry(descriptions: Self.descriptions)
        self.registry = registry
        process = ProcessMetrics(prefix: "appserver", factory: registry)
        spawns = Counter(label: "appserver_worker_spawns_total", factory: registry)
        exits = Dictionary(
            uniqueKeysWithValues: WorkerExitCause.allCases.map {
                (
                    $0,
                    Counter(
                        label: "appserver_worker_exits_total", dimensions: [("cause", $0.rawValue)], factory: registry)
                )
            })
        bootFailures = Counter(label: "appserver_worker_boot_failures_total", factory: registry)
        reloads = [
            true: Counter(label: "appserver_reloads_total", dimensions: [("result", "applied")], factory: registry),
            false: Counter(label: "appserver_reloads_total", dimensions: [("result", "refused")], factory: registry),
        ]
        workerGauges = Dictionary(
            uniqueKeysWithValues: WorkerView.states.map {
                ($0, Gauge(label: "appserver_workers", dimensions: [("state", $0)], factory: registry))
            })
        generation = Gauge(label: "appserver_generation", factory: registry)
        backoff = Gauge(label: "appserver_respawn_backoff_seconds", factory: registry)
        requestsByClass = (1...5).map {
            Counter(label: "appserver_requests_total", dimensions: [("status", "\($0)xx")], factory: registry)
        }
        durations = registry.makeRecorder(label: "appserver_request_duration_seconds", dimensions: [], aggregate: true)
        inFlight = Gauge(label: "appserver_requests_in_flight", factory: registry)
        workersMemory = Gauge(label: "appserver_workers_resident_memory_bytes", factory: registry)
    }

    // MARK: The master's loop

    /// Counts `event` before the arbiter handles it (an exit's cause is read from the arbiter's view of the worker).
    func observe(_ event: ArbiterEvent, arbiter: Arbiter) {
        switch event {
        case .spawned: spawns.increment()
        case .spawnFailed: bootFailures.increment()
        case .exited(let pid, let exit, _):
            guard let cause = arbiter.exitCause(of: pid, exit) else { return }
            exits[cause]!.increment()
            if cause == .bootFailure { bootFailures.increment() }
        case .configReloaded: reloads[true]!.increment()
        case .configInvalid: reloads[false]!.increment()
        default: break
        }
    }

    /// The master's state after an event, for scrapes and the status page.
    func publish(_ newView: MasterView) {
        view.withLockedValue { $0 = newView }
    }

    /// A worker ended: its board is read one last time, so no request it served goes uncounted.
    func workerExited(pid: Int32, board: StatusBoard, loops: Int) {
        collect([(pid, board)], loops: loops)
        collected.withLockedValue { _ = $0.byPID.removeValue(forKey: pid) }
    }

    // MARK: The admin listener's thread

    /// Reads every live worker's board into the metrics; returns the responses counted since start.
    @discardableResult
    func collectWorkers() -> (view: MasterView, answered: UInt64) {
        let current = view.withLockedValue { $0 }
        let answered = collect(current.workers.map { ($0.pid, $0.board) }, loops: current.loopsPerWorker)
        return (current, answered)
    }

    /// The metrics as Prometheus text, with every board and the process read now.
    func exposition() -> [UInt8] {
        let current = collectWorkers().view
        for state in WorkerView.states {
            workerGauges[state]!.record(current.workers.filter { $0.state == state }.count)
        }
        generation.record(current.generation)
        backoff.record(current.respawnDelay)
        inFlight.record(
            current.workers.reduce(0) { $0 + Int($1.board.requestStats(loops: current.loopsPerWorker).inFlight) })
        workersMemory.record(
            current.workers.reduce(0) { $0 + (ProcessMetrics.memory(ofProcess: "\($1.pid)")?.resident ?? 0) })
        process.update()
        return registry.exposition()
    }

    /// Adds what each board counted since it was last read; returns the running total of responses.
    @discardableResult
    private func collect(_ boards: [(pid: Int32, board: StatusBoard)], loops: Int) -> UInt64 {
        collected.withLockedValue { state in
            for (pid, board) in boards {
                let now = board.requestStats(loops: loops)
                let before = state.byPID[pid] ?? WorkerRequestStats()
                for index in 0..<5 where now.byStatusClass[index] > before.byStatusClass[index] {
                    requestsByClass[index].increment(by: Int64(now.byStatusClass[index] - before.byStatusClass[index]))
                }
                BucketedDurations.record(now.durations.increase(since: before.durations), in: durations)
                state.answered &+= now.answered &- before.answered
                state.byPID[pid] = now
            }
            return state.answered
        }
    }
}
