import Shared
import Testing

@testable import AppServer

/// `Arbiter.exitCause`: why a worker ended, read from the arbiter's view of it before the exit is handled.
@Suite struct WorkerExitCauseTests {
    var arbiter = Arbiter(settings: ArbiterSettings(workers: 2, timeout: 30, gracefulTimeout: 10))
    var nextPID: Int32 = 100

    mutating func send(_ event: ArbiterEvent) {
        var actions = arbiter.handle(event)
        var index = 0
        while index < actions.count {
            if case .spawn(let id, _) = actions[index] {
                nextPID += 1
                actions += arbiter.handle(.spawned(id: id, pid: nextPID, now: 0))
            }
            index += 1
        }
    }

    mutating func startServing() -> [Int32] {
        send(.start(now: 0))
        let pids = arbiter.workers.values.compactMap(\.pid).sorted()
        for pid in pids { send(.ready(pid: pid, now: 1)) }
        return pids
    }

    @Test mutating func aReadyWorkerThatDiesCrashed() {
        let pids = startServing()
        #expect(arbiter.exitCause(of: pids[0], .signalled(signal: 4)) == .crash)
        #expect(arbiter.exitCause(of: 9999, .signalled(signal: 4)) == nil)
    }

    @Test mutating func aWorkerThatCannotBootIsABootFailure() {
        send(.start(now: 0))
        let pid = arbiter.workers.values.compactMap(\.pid).min()!
        #expect(arbiter.exitCause(of: pid, .signalled(signal: 11)) == .bootFailure)
        #expect(arbiter.exitCause(of: pid, .exited(code: WorkerExit.appLoadFailureCode)) == .bootFailure)
    }

    @Test mutating func anAbortedWorkerTimedOutEvenOnceKilled() {
        let pids = startServing()
        send(.tick(now: 40, heartbeats: [pids[0]: 0, pids[1]: 1], requests: [:]))
        #expect(arbiter.exitCause(of: pids[0], .signalled(signal: 6)) == .heartbeatTimeout)
        send(.tick(now: 46, heartbeats: [pids[1]: 2], requests: [:]))
        #expect(arbiter.workers.values.first { $0.pid == pids[0] }?.state == .killed)
        #expect(arbiter.exitCause(of: pids[0], .signalled(signal: 9)) == .heartbeatTimeout)
    }

    @Test mutating func stoppedWorkersLeaveForTheReasonTheyWereStopped() {
        let pids = startServing()
        // max_requests: the retiring worker leaves once its replacement is ready.
        send(.retiring(pid: pids[0], now: 5))
        let replacement = arbiter.workers.values.first { $0.state == .booting }!.pid!
        send(.ready(pid: replacement, now: 6))
        #expect(arbiter.exitCause(of: pids[0], .exited(code: 0)) == .maxRequests)
        // TTOU.
        send(.exited(pid: pids[0], .exited(code: 0), now: 7))
        send(.signal(.ttou, now: 8))
        let scaledDown = arbiter.workers.values.first { if case .stopping = $0.state { true } else { false } }!.pid!
        #expect(arbiter.exitCause(of: scaledDown, .exited(code: 0)) == .scaleDown)
        send(.exited(pid: scaledDown, .exited(code: 0), now: 9))
        // A reload: the old generation stops once the new one is ready.
        send(.signal(.hup, now: 10))
        send(.configReloaded(arbiter.settings, now: 10))
        let old = arbiter.workers.values.filter { $0.generation == 1 }.compactMap(\.pid)
        for pid in arbiter.workers.values.filter({ $0.generation == 2 }).compactMap(\.pid) {
            send(.ready(pid: pid, now: 11))
        }
        #expect(!old.isEmpty && old.allSatisfy { arbiter.exitCause(of: $0, .exited(code: 0)) == .reload })
        // Shutdown.
        send(.signal(.term, now: 12))
        let remaining = arbiter.workers.values.compactMap(\.pid)
        #expect(arbiter.exitCause(of: remaining.max()!, .exited(code: 0)) == .shutdown)
    }

    @Test func backoffIsZeroUntilBootsFail() {
        #expect(arbiter.respawnDelay(now: 0) == 0)
    }
}
