import Foundation
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// How the kernel schedules worker processes (`worker_scheduling`).
///
/// With `batch` (Linux's `SCHED_BATCH`), a worker woken by a request does not preempt the process that woke it. When
/// Edge and the workers share CPUs, Edge then hands over every request that is ready before a worker runs, and the
/// worker answers all of them in one go, instead of the two switching places on each request. Measured with both
/// pinned to one CPU (docs/performance.md): context switches per request 0.5 → 0.06, requests per second +10 %. A
/// batch process gets the same share of CPU time as any other; only its wake-ups wait for the running process's
/// turn to end, which never showed in the latency measured beside a CPU-bound process.
enum WorkerScheduling: String, Sendable, Decodable, CustomStringConvertible {
    /// The kernel's default policy (`SCHED_OTHER`).
    case normal
    /// `SCHED_BATCH`: no preemption on wake-up.
    case batch

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: text) else {
            throw ConfigValueError("unknown scheduling '\(text)' (expected batch or normal)")
        }
        self = value
    }

    /// The policy number for `sched_setscheduler`.
    var policy: CInt {
        switch self {
        case .normal: CInt(SCHED_OTHER)
        case .batch: 3  // SCHED_BATCH in <linux/sched.h>; Glibc's Swift module leaves it out (a _GNU_SOURCE name)
        }
    }

    var description: String { rawValue }
}

extension WorkerScheduling {
    /// Puts every thread of this process under the policy. Linux schedules threads, not processes, and a thread
    /// starts under its creator's policy: applied once the worker's event loops exist, it covers them, the
    /// concurrency runtime's threads, and every thread started later. (`posix_spawn`'s `POSIX_SPAWN_SETSCHEDULER`
    /// would have been the natural place, but glibc on Linux leaves the child's policy unchanged.)
    ///
    /// Returns why the kernel refused, if it did (a sandbox may forbid changing policies).
    func applyToAllThreads() -> Errno? {
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else {
            return Errno(ENOENT)
        }
        var parameters = sched_param()
        parameters.sched_priority = 0
        for thread in threads.compactMap({ pid_t($0) }) where sched_setscheduler(thread, policy, &parameters) != 0 {
            // A thread that exited since the listing is not a refusal.
            if errno != ESRCH { return Errno(errno) }
        }
        return nil
    }
}
