import CoreMetrics
import Prometheus

/// The metrics of one process: made through the swift-metrics API (`CoreMetrics.Counter`, `Timer`, `Meter`,
/// `Gauge`, given this as their factory) and written out in Prometheus' text format by swift-prometheus.
///
/// It stands between the two for one reason: Prometheus wants a `# HELP` line for every metric (`promtool check
/// metrics` fails without one), and swift-prometheus' own factory registers every metric with an empty help text.
/// Each metric is declared here first, with its help and (for histograms) its buckets; making one that was not
/// declared is a programming error.
public final class MetricsRegistry: MetricsFactory, Sendable {
    /// A metric's help text and, for a timer, its buckets.
    public struct Description: Sendable {
        public var help: String
        public var buckets: [Duration]?

        public init(_ help: String, buckets: [Duration]? = nil) {
            self.help = help
            self.buckets = buckets
        }
    }

    /// Buckets for request and upstream durations: 1 ms to 30 s, finer where a fast site spends its time.
    public static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    private let registry = PrometheusCollectorRegistry()
    private let descriptions: [String: Description]

    /// A registry that knows the metrics in `descriptions`, by name.
    public init(descriptions: [String: Description]) {
        self.descriptions = descriptions
    }

    /// Every metric in Prometheus' text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    private func description(of name: String) -> Description {
        guard let description = descriptions[name] else {
            preconditionFailure("metric \(name) is not declared in its MetricsRegistry")
        }
        return description
    }

    /// swift-prometheus' descriptor for `name` as it stands (no unit suffix added), with its help text.
    private func descriptor(of name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: description(of: name).help)
    }

    // MARK: MetricsFactory

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(of: label), labels: dimensions)
    }

    public func makeFloatingPointCounter(
        label: String, dimensions: [(String, String)]
    ) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(of: label), labels: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(of: label), labels: dimensions)
    }

    /// A `Gauge`, or with `aggregate` a histogram of seconds in `durationBuckets`: what the servers' duration
    /// histograms are made as. Recorded in bulk from counts kept per event loop or per worker, a `Double` histogram
    /// costs a quarter of a `Duration` one (whose every bucket comparison is a 128-bit call).
    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(of: label), labels: dimensions) }
        let buckets = (description(of: label).buckets ?? Self.durationBuckets).map(Self.seconds)
        return registry.makeValueHistogram(descriptor: descriptor(of: label), labels: dimensions, buckets: buckets)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(
            descriptor: descriptor(of: label), labels: dimensions,
            buckets: description(of: label).buckets ?? Self.durationBuckets)
    }

    // Metrics live as long as the process: labels come from configuration (listeners, routes, upstreams), and a
    // series that disappears on a reload would break every rate() over it.
    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    public func destroyMeter(_ handler: any MeterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
}
