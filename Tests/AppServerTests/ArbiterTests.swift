import Shared
import Testing

@testable import AppServer

/// The master's decisions, driven with a fake clock and fake pids.
@Suite struct ArbiterTests {
    var arbiter = Arbiter(settings: ArbiterSettings(workers: 2, timeout: 30, gracefulTimeout: 10))
    var nextPID: Int32 = 100

    /// Feeds `event`, answering every spawn with a new pid as the executor would.
    @discardableResult
    mutating func send(_ event: ArbiterEvent, now: Instant = 0) -> [ArbiterAction] {
        var actions = arbiter.handle(event)
        var index = 0
        while index < actions.count {
            if case .spawn(let id, _) = actions[index] {
                nextPID += 1
                actions += arbiter.handle(.spawned(id: id, pid: nextPID, now: now))
            }
            index += 1
        }
        return actions
    }

    func spawns(_ actions: [ArbiterAction]) -> [Int] {
        actions.compactMap { if case .spawn(_, let generation) = $0 { generation } else { nil } }
    }

    func signals(_ actions: [ArbiterAction]) -> [ArbiterAction] {
        actions.filter { if case .signal = $0 { true } else { false } }
    }

    func pids(generation: Int) -> [Int32] {
        arbiter.workers.values.filter { $0.generation == generation }.compactMap(\.pid).sorted()
    }

    /// Starts two workers and makes them ready; returns their pids.
    mutating func startServing() -> [Int32] {
        send(.start(now: 0))
        let started = pids(generation: 1)
        for pid in started { send(.ready(pid: pid, now: 1)) }
        return started
    }

    @Test mutating func startSpawnsWorkersAndReportsReadyOnlyWhenAllAre() {
        let actions = send(.start(now: 0))
        #expect(spawns(actions) == [1, 1])
        let pids = pids(generation: 1)
        #expect(!send(.ready(pid: pids[0], now: 1)).contains(.notify("READY=1\nSTATUS=serving")))
        #expect(send(.ready(pid: pids[1], now: 1)).contains(.notify("READY=1\nSTATUS=serving")))
    }

    @Test mutating func theStatusLineCountsWorkersByStateThroughAReload() {
        send(.start(now: 0))
        #expect(arbiter.statusLine == "serving generation 1: 0 of 2 workers ready, 2 booting")
        let first = pids(generation: 1)
        send(.ready(pid: first[0], now: 1))
        send(.ready(pid: first[1], now: 1))
        #expect(arbiter.statusLine == "serving generation 1: 2 of 2 workers ready")
        send(.signal(.hup, now: 5), now: 5)
        send(.configReloaded(ArbiterSettings(workers: 2, timeout: 30, gracefulTimeout: 10), now: 5), now: 5)
        #expect(arbiter.statusLine == "reloading to generation 2: 2 of 2 workers ready, 2 booting")
        send(.signal(.term, now: 9), now: 9)
        #expect(arbiter.statusLine.hasPrefix("stopping: "))
    }

    @Test mutating func crashedWorkerIsReplaced() {
        let pids = startServing()
        let actions = send(.exited(pid: pids[0], .signalled(signal: 4), now: 5))
        #expect(spawns(actions) == [1])
        #expect(actions.contains { if case .log(.error, let text) = $0 { text.contains("SIGILL") } else { false } })
        #expect(arbiter.activeWorkers.count == 2)
    }

    @Test mutating func workersDyingAtBootBackOffExponentially() {
        let pids = startServing()
        // A crash of a serving worker is replaced at once.
        #expect(spawns(send(.exited(pid: pids[0], .exited(code: 1), now: 10), now: 10)) == [1])
        var now: Instant = 10
        var expectedDelay: Instant = 0.2
        for _ in 0..<3 {
            // The replacement dies before it is ready: a boot failure, so the next attempt waits.
            let booting = arbiter.workers.values.first { $0.state == .booting }!.pid!
            #expect(spawns(send(.exited(pid: booting, .exited(code: 1), now: now), now: now)).isEmpty)
            #expect(
                spawns(send(.tick(now: now + expectedDelay * 0.9, heartbeats: [:], requests: [:]), now: now)).isEmpty)
            now += expectedDelay
            #expect(spawns(send(.tick(now: now, heartbeats: [:], requests: [:]), now: now)) == [1])
            expectedDelay *= 2
        }
    }

    @Test mutating func bootFailureCodeHaltsWithThatCode() {
        send(.start(now: 0))
        let pids = pids(generation: 1)
        let actions = send(.exited(pid: pids[0], .exited(code: WorkerExit.appLoadFailureCode), now: 1))
        #expect(
            actions.contains {
                if case .log(.error, let text) = $0 { text.contains("app failed to load") } else { false }
            })
        #expect(signals(actions) == [.signal(pid: pids[1], .term)])
        let final = send(.exited(pid: pids[1], .exited(code: 0), now: 2))
        #expect(final.contains(.exit(code: WorkerExit.appLoadFailureCode)))
    }

    @Test mutating func silentWorkerIsReplacedAbortedThenKilled() {
        let pids = startServing()
        send(.tick(now: 10, heartbeats: [pids[0]: 5, pids[1]: 5], requests: [:]), now: 10)
        send(.tick(now: 20, heartbeats: [pids[0]: 5, pids[1]: 9], requests: [:]), now: 20)
        let abort = send(
            .tick(now: 41, heartbeats: [pids[0]: 5, pids[1]: 12], requests: [pids[0]: "GET /slow (request id r1)"]),
            now: 41)
        #expect(signals(abort) == [.signal(pid: pids[0], .abort)])
        #expect(spawns(abort) == [1])  // its replacement starts at once
        #expect(
            abort.contains {
                if case .log(.error, let text) = $0 {
                    text.contains("silent for 31s while serving GET /slow (request id r1)")
                } else {
                    false
                }
            })
        let kill = send(.tick(now: 47, heartbeats: [pids[1]: 13], requests: [:]), now: 47)
        #expect(signals(kill) == [.signal(pid: pids[0], .kill)])
        #expect(arbiter.workers.values.first { $0.pid == pids[0] }?.state == .killed)
        // Killed: nothing more is sent to it, however long its exit takes to be seen.
        for later in [48.0, 600, 7200] {
            let actions = send(.tick(now: later, heartbeats: [:], requests: [:]), now: later)
            #expect(
                !signals(actions).contains { $0 == .signal(pid: pids[0], .kill) || $0 == .signal(pid: pids[0], .abort) }
            )
        }
        let exited = send(.exited(pid: pids[0], .signalled(signal: 9), now: 48), now: 48)
        #expect(spawns(exited).isEmpty)
        #expect(arbiter.activeWorkers.count == 2)
    }

    /// A worker that ignores TERM is killed at `graceful_timeout`, and once only; the master then waits for it.
    @Test mutating func aWorkerThatIgnoresTermIsKilledOnceAtTheDeadline() {
        let pids = startServing()
        let stop = send(.signal(.term, now: 5), now: 5)
        #expect(Set(signals(stop)) == Set(pids.map { .signal(pid: $0, .term) }))
        send(.exited(pid: pids[1], .exited(code: 0), now: 6), now: 6)
        let kill = send(.tick(now: 15, heartbeats: [:], requests: [:]), now: 15)
        #expect(signals(kill) == [.signal(pid: pids[0], .kill)])
        #expect(arbiter.workers.values.first { $0.pid == pids[0] }?.state == .killed)
        for later in [16.0, 600, 7200] {
            #expect(signals(send(.tick(now: later, heartbeats: [:], requests: [:]), now: later)).isEmpty)
        }
        #expect(send(.exited(pid: pids[0], .signalled(signal: 9), now: 7201), now: 7201).contains(.exit(code: 0)))
    }

    @Test mutating func hupStartsANewGenerationAndStopsTheOldOnlyWhenItIsReady() {
        let old = startServing()
        let hup = send(.signal(.hup, now: 5), now: 5)
        #expect(hup.contains(.reloadConfig))
        #expect(hup.contains(.notify("RELOADING=1")))
        let reloaded = send(
            .configReloaded(ArbiterSettings(workers: 2, timeout: 30, gracefulTimeout: 10), now: 5), now: 5)
        #expect(spawns(reloaded) == [2, 2])
        let new = pids(generation: 2)
        #expect(signals(send(.ready(pid: new[0], now: 6))).isEmpty)  // one new worker is not enough
        let switched = send(.ready(pid: new[1], now: 6))
        #expect(Set(signals(switched)) == Set(old.map { .signal(pid: $0, .term) }))
        #expect(switched.contains(.notify("READY=1\nSTATUS=serving (generation 2)")))
        // Old workers leaving afterwards are expected, not replaced.
        #expect(spawns(send(.exited(pid: old[0], .exited(code: 0), now: 7))).isEmpty)
    }

    @Test mutating func failingNewGenerationLeavesTheOldOneServing() {
        let old = startServing()
        send(.signal(.hup, now: 5), now: 5)
        send(.configReloaded(ArbiterSettings(workers: 2, timeout: 30, gracefulTimeout: 10), now: 5), now: 5)
        let new = pids(generation: 2)
        let failed = send(.exited(pid: new[0], .exited(code: WorkerExit.appLoadFailureCode), now: 6))
        #expect(!failed.contains { if case .exit = $0 { true } else { false } })
        #expect(signals(failed) == [.signal(pid: new[1], .term)])
        #expect(
            failed.contains {
                if case .log(.error, let text) = $0 { text.contains("generation 1 keeps serving") } else { false }
            })
        #expect(!signals(failed).contains(.signal(pid: old[0], .term)))
        #expect(arbiter.phase == .running)
    }

    @Test mutating func invalidConfigOnHupKeepsEverything() {
        _ = startServing()
        send(.signal(.hup, now: 5), now: 5)
        let refused = send(.configInvalid(reason: "workers: must be at least 1", now: 5))
        #expect(signals(refused).isEmpty && spawns(refused).isEmpty)
        #expect(refused.contains(.notify("READY=1\nSTATUS=reload refused: bad configuration")))
    }

    @Test mutating func ttinAddsAndTtouRemovesTheOldest() {
        let pids = startServing()
        #expect(spawns(send(.signal(.ttin, now: 5), now: 5)) == [1])
        let ttou = send(.signal(.ttou, now: 6), now: 6)
        #expect(signals(ttou) == [.signal(pid: pids[0], .term)])
        #expect(arbiter.settings.workers == 2)
    }

    @Test mutating func retiringWorkerLeavesOnlyAfterItsReplacementIsReady() {
        let pids = startServing()
        let retiring = send(.retiring(pid: pids[0], now: 5), now: 5)
        #expect(spawns(retiring) == [1])
        #expect(signals(retiring).isEmpty)
        let replacement = arbiter.workers.values.first { $0.state == .booting }!.pid!
        #expect(signals(send(.ready(pid: replacement, now: 6))) == [.signal(pid: pids[0], .term)])
    }

    @Test mutating func termStopsGracefullyAndKillsStragglersAtTheDeadline() {
        let pids = startServing()
        let term = send(.signal(.term, now: 5), now: 5)
        #expect(Set(signals(term)) == Set(pids.map { .signal(pid: $0, .term) }))
        #expect(spawns(send(.exited(pid: pids[0], .exited(code: 0), now: 6))).isEmpty)
        let deadline = send(.tick(now: 16, heartbeats: [:], requests: [:]), now: 16)
        #expect(signals(deadline).contains(.signal(pid: pids[1], .kill)))
        #expect(send(.exited(pid: pids[1], .signalled(signal: 9), now: 17)).contains(.exit(code: 0)))
    }

    @Test mutating func intStopsFast() {
        let pids = startServing()
        #expect(Set(signals(send(.signal(.int, now: 5), now: 5))) == Set(pids.map { .signal(pid: $0, .quit) }))
    }
}

@Suite struct CIDRTests {
    @Test func matchesAddressesInRange() {
        let local = CIDR("127.0.0.1/32")!
        #expect(local.contains("127.0.0.1"))
        #expect(!local.contains("127.0.0.2"))
        let ten = CIDR("10.0.0.0/8")!
        #expect(ten.contains("10.200.3.4"))
        #expect(!ten.contains("11.0.0.1"))
        let six = CIDR("fd00::/8")!
        #expect(six.contains("fd12::1"))
        #expect(!six.contains("fe80::1"))
        #expect(!ten.contains("::1"))
        #expect(CIDR("192.168.1.7")!.contains("192.168.1.7"))
    }

    @Test func rejectsBadRanges() {
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("nonsense/8") == nil)
        #expect(CIDR("10.0.0.0/x") == nil)
    }
}
