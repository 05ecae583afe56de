import CoreMetrics
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` metrics of this process (as Prometheus' own client libraries name them), read from
/// `/proc/self` when scraped, plus `<prefix>_build_info{version}`.
public final class ProcessMetrics: Sendable {
    /// The descriptions `MetricsRegistry` needs for these metrics.
    public static func descriptions(prefix: String) -> [String: MetricsRegistry.Description] {
        [
            "process_cpu_seconds_total": .init("User and system CPU time spent, in seconds."),
            "process_resident_memory_bytes": .init("Resident memory size, in bytes."),
            "process_virtual_memory_bytes": .init("Virtual memory size, in bytes."),
            "process_open_fds": .init("Open file descriptors."),
            "process_max_fds": .init("The limit on open file descriptors (RLIMIT_NOFILE)."),
            "process_start_time_seconds": .init("When the process started, in seconds since the Unix epoch."),
            "\(prefix)_build_info": .init("Always 1; its version label is the running build's version."),
        ]
    }

    private let cpuSeconds: FloatingPointCounter
    private let residentBytes: Gauge
    private let virtualBytes: Gauge
    private let openDescriptors: Gauge
    private let maxDescriptors: Gauge
    /// CPU time already counted: the counter goes up by what was used since the last scrape.
    private let countedCPU = Mutex<Double>(0)

    public init(prefix: String, factory: any MetricsFactory) {
        cpuSeconds = FloatingPointCounter(label: "process_cpu_seconds_total", factory: factory)
        residentBytes = Gauge(label: "process_resident_memory_bytes", factory: factory)
        virtualBytes = Gauge(label: "process_virtual_memory_bytes", factory: factory)
        openDescriptors = Gauge(label: "process_open_fds", factory: factory)
        maxDescriptors = Gauge(label: "process_max_fds", factory: factory)
        Gauge(label: "process_start_time_seconds", factory: factory).record(Self.startTime())
        Gauge(label: "\(prefix)_build_info", dimensions: [("version", BuildInfo.version)], factory: factory).record(1)
    }

    /// Reads the process' current figures into the metrics; called before each scrape.
    public func update() {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Self.seconds(usage.ru_utime) + Self.seconds(usage.ru_stime)
        let increase = countedCPU.withLock { counted in
            defer { counted = max(counted, cpu) }
            return max(0, cpu - counted)
        }
        cpuSeconds.increment(by: increase)
        if let memory = Self.memory(ofProcess: "self") {
            residentBytes.record(memory.resident)
            virtualBytes.record(memory.size)
        }
        openDescriptors.record(Self.openDescriptorCount())
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxDescriptors.record(Double(limit.rlim_cur)) }
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }

    /// Total and resident size in bytes of process `pid` (`self`, or a number), from `/proc/PID/statm`.
    public static func memory(ofProcess pid: String) -> (size: Double, resident: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let size = Double(fields[0]), let resident = Double(fields[1]) else { return nil }
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        return (size * pageSize, resident * pageSize)
    }

    private static func openDescriptorCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map { $0 - 1 } ?? 0
    }

    /// The process' start time: boot time (`btime` in `/proc/stat`) plus field 22 of `/proc/self/stat` (in clock
    /// ticks since boot).
    private static func startTime() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let afterName = stat.lastIndex(of: ")"),
            let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let bootLine = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let boot = Double(bootLine.dropFirst("btime ".count))
        else { return Date().timeIntervalSince1970 }
        // Fields after the name start at field 3 (state); field 22 is starttime.
        let fields = stat[stat.index(after: afterName)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return Date().timeIntervalSince1970 }
        return boot + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
