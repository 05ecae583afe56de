/// One worker as the master's admin listener shows it: what the arbiter knows of it, and its status board.
struct WorkerView: Sendable {
    var pid: Int32
    var id: Int
    var generation: Int
    /// `booting`, `ready`, `retiring`, `stopping`, `aborting` or `killed`.
    var state: String
    /// Master-clock seconds when it was spawned.
    var spawnedAt: Double
    var board: StatusBoard

    /// Every worker's state name, for the `state` label of `appserver_workers`.
    static let states = ["booting", "ready", "retiring", "stopping", "aborting", "killed"]

    static func stateName(of worker: Arbiter.Worker) -> String {
        switch worker.state {
        case .spawning, .booting: "booting"
        case .ready: worker.retiring ? "retiring" : "ready"
        case .stopping: "stopping"
        case .aborting: "aborting"
        case .killed: "killed"
        }
    }
}

/// What the master publishes for its admin listener after every event it handles: the admin listener runs on a
/// thread of its own and never touches the master's state.
struct MasterView: Sendable {
    var workers: [WorkerView] = []
    var generation = 1
    /// Event loops per worker, for reading the boards' slots.
    var loopsPerWorker = 1
    /// Seconds until the next respawn is allowed (backing off after boot failures).
    var respawnDelay = 0.0
    /// The arbiter's status line, as `systemctl status` shows it.
    var statusLine = ""
    /// Master-clock seconds now.
    var now = 0.0
}
