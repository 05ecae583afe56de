import Foundation
import NIOConcurrencyHelpers
import Shared

/// The master's admin listener: the metrics of the master and every worker, and a status page like gunicorn's
/// worker list.
final class MasterAdminPages: AdminPages {
    private let masterMetrics: MasterMetrics
    private let rate = NIOLockedValueBox(RequestRate())
    private let started = Date()

    init(metrics: MasterMetrics) {
        self.masterMetrics = metrics
    }

    var title: String { "AppServer \(BuildInfo.version) on \(ProcessInfo.processInfo.hostName)" }

    func metrics() async -> [UInt8] { masterMetrics.exposition() }

    func tick(now: Double) async {
        let answered = masterMetrics.collectWorkers().answered
        rate.withLockedValue { $0.sample(total: answered, at: now) }
    }

    func status() async -> StatusValue {
        let (view, answered) = masterMetrics.collectWorkers()
        let workers: [StatusValue] = view.workers.sorted { $0.id < $1.id }.map { worker in
            let stats = worker.board.requestStats(loops: view.loopsPerWorker)
            let seconds = worker.board.currentRequestSeconds
            return .object([
                ("pid", .integer(worker.pid)), ("id", .integer(worker.id)), ("generation", .integer(worker.generation)),
                ("state", .text(worker.state)), ("age_seconds", .number((view.now - worker.spawnedAt).rounded())),
                ("requests_served", .integer(stats.answered)), ("in_flight", .integer(stats.inFlight)),
                ("current_request", worker.board.currentRequest.map(StatusValue.text) ?? .null),
                ("current_request_seconds", seconds.map { .number(($0 * 1000).rounded() / 1000) } ?? .null),
            ])
        }
        return .object([
            (
                "master",
                .object([
                    ("version", .text(BuildInfo.version)), ("pid", .integer(getpid())),
                    ("uptime_seconds", .number(Date().timeIntervalSince(started).rounded())),
                    ("generation", .integer(view.generation)), ("status", .text(view.statusLine)),
                ])
            ),
            (
                "requests",
                .object([
                    ("total", .integer(answered)),
                    ("per_second_last_minute", .number(rate.withLockedValue { $0.perSecond })),
                ])
            ),
            ("workers", .array(workers)),
        ])
    }
}
