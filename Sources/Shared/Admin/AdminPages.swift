/// What a binary shows on its admin listener.
public protocol AdminPages: Sendable {
    /// The status page's heading, e.g. `Edge 0.1.0 on host`.
    var title: String { get }
    /// `/metrics`: every metric in Prometheus' text format, read fresh.
    func metrics() async -> [UInt8]
    /// `/status`: the figures the page shows now.
    func status() async -> StatusValue
    /// Called about once a second on the admin listener's thread, with monotonic seconds: sampling for rates.
    func tick(now: Double) async
}
