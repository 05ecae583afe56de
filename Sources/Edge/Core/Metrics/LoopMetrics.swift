import NIOHTTP1
import Shared

/// What one event loop counts for Edge's metrics, in plain integers: the request path takes no lock and makes no
/// atomic operation. When scraped, the admin thread has each loop hand over what changed since it last asked
/// (`takeChanges`, run on the loop) and adds it to the shared metrics.
///
/// One per event loop, kept by `EdgeMetrics` across reloads, so nothing counted is lost when a generation ends.
final class LoopMetrics {
    /// The responses of one listener and route: counts by method and status class, then each duration bucket's
    /// count and sum, in words of memory of its own (array elements would be checked for uniqueness on every
    /// write); and the same as last reported.
    private final class RequestSeries {
        static let countWords = LoopMetrics.methodCount * 5
        static let words = countWords + 2 * BucketedDurations.bucketCount
        let now = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        var reported = [UInt64](repeating: 0, count: words)
        /// Where the bucket counts and sums start in `now`, and the duration buckets' bounds: the globals' values,
        /// kept here so that a response checks no lazily initialised global.
        private let countsStart = countWords
        private let sumsStart = countWords + BucketedDurations.bucketCount
        private let bounds: UnsafePointer<UInt64>
        private let boundCount: Int

        init(bounds: UnsafePointer<UInt64>, boundCount: Int) {
            (self.bounds, self.boundCount) = (bounds, boundCount)
            now.initialize(repeating: 0, count: Self.words)
        }

        deinit {
            now.deallocate()
        }

        func record(methodAndClass: Int, nanoseconds: Int64) {
            now[methodAndClass] &+= 1
            let duration = UInt64(max(0, nanoseconds))
            var bucket = 0
            while bucket < boundCount && duration > bounds[bucket] { bucket += 1 }
            now[countsStart + bucket] &+= 1
            now[sumsStart + bucket] &+= duration
        }

        func durations(_ words: UnsafeBufferPointer<UInt64>) -> BucketedDurations {
            var durations = BucketedDurations()
            for index in 0..<BucketedDurations.bucketCount {
                durations.counts[index] = words[Self.countWords + index]
                durations.sums[index] = words[Self.countWords + BucketedDurations.bucketCount + index]
            }
            return durations
        }
    }

    /// `GET`, `HEAD`, `POST`, `PUT`, `DELETE`, `PATCH`, `OPTIONS`, other.
    static let methodCount = 8
    /// The statuses counted as refusals by a limit, in `Counted.refusals` order.
    static let refusalStatuses = [408, 413, 414, 429, 431]

    /// Counters that only grow, by what they count.
    enum Counted: Int, CaseIterable {
        case bytesIn, bytesOut, gzip, precompressed, cacheHits, cacheMisses, handshakes
        case refused408, refused413, refused414, refused429, refused431
    }

    private var series: [Int: RequestSeries] = [:]
    /// The series last recorded in: a connection's requests mostly go to one listener and route.
    private var lastKey = -1
    private var lastSeries: RequestSeries?
    // The request path's counts are in memory of their own, not arrays: an array is checked for uniqueness on every
    // write, which cost a fifth of what counting a response costs.
    private static let counterCount = Counted.allCases.count
    private let counters = UnsafeMutablePointer<UInt64>.allocate(capacity: counterCount)
    private var reportedCounters = [UInt64](repeating: 0, count: counterCount)
    private static let connectionSlots = ConnectionKind.allCases.count * ConnectionActivity.allCases.count
    private let connections = UnsafeMutablePointer<Int>.allocate(capacity: connectionSlots)
    /// `BucketedDurations.bounds`, for the series to read without a global's lazy-initialisation check.
    private static let boundCount = BucketedDurations.bounds.count
    private let bounds = UnsafeMutablePointer<UInt64>.allocate(capacity: boundCount)

    init() {
        counters.initialize(repeating: 0, count: Self.counterCount)
        connections.initialize(repeating: 0, count: Self.connectionSlots)
        bounds.initialize(from: BucketedDurations.bounds, count: Self.boundCount)
    }

    deinit {
        counters.deallocate()
        connections.deallocate()
        bounds.deallocate()
    }
    private var upstreamResponses: [Int: (now: BucketedDurations, reported: BucketedDurations)] = [:]

    // MARK: The request path

    /// A response of `listener` on `route` (ids from `EdgeMetrics`) with `status` and `bodyBytes`, `nanoseconds`
    /// after its head.
    func recordResponse(listener: Int, route: Int, method: Int, status: Int, nanoseconds: Int64, bodyBytes: Int) {
        let key = listener << 16 | route
        let entry: RequestSeries
        if key == lastKey, let last = lastSeries {
            entry = last
        } else if let found = series[key] {
            entry = found
        } else {
            entry = RequestSeries(bounds: bounds, boundCount: Self.boundCount)
            series[key] = entry
        }
        (lastKey, lastSeries) = (key, entry)
        let statusClass = min(max(status / 100, 1), 5) - 1
        entry.record(methodAndClass: method * 5 + statusClass, nanoseconds: nanoseconds)
        counters[Counted.bytesOut.rawValue] &+= UInt64(max(0, bodyBytes))
        if status >= 408, let refusal = Self.refusalStatuses.firstIndex(of: status) {
            counters[Counted.refused408.rawValue + refusal] &+= 1
        }
    }

    func count(_ what: Counted, by amount: Int = 1) {
        counters[what.rawValue] &+= UInt64(max(0, amount))
    }

    /// What a static file's lookup counts: open-file cache hits and misses, gzip and precompressed answers.
    struct LookupCounts: Equatable {
        fileprivate let values: [UInt64]
    }

    private static let lookupCounted: [Counted] = [.cacheHits, .cacheMisses, .gzip, .precompressed]

    /// The lookup counts now, to put back (`restore`) when a lookup turns out to be a trial that another will repeat.
    var lookupCounts: LookupCounts {
        LookupCounts(values: Self.lookupCounted.map { counters[$0.rawValue] })
    }

    func restore(_ counts: LookupCounts) {
        for (what, value) in zip(Self.lookupCounted, counts.values) { counters[what.rawValue] = value }
    }

    /// A connection left slot `from` (-1: it was not counted) for `to` (-1: it is no longer counted).
    func connectionMoved(from: Int, to: Int) {
        if from >= 0 { connections[from] -= 1 }
        if to >= 0 { connections[to] += 1 }
    }

    /// An upstream server (by `EdgeMetrics` id) answered a request's head `nanoseconds` after it was sent.
    func upstreamResponded(server: Int, nanoseconds: Int64) {
        upstreamResponses[server, default: (BucketedDurations(), BucketedDurations())].now.record(
            nanoseconds: nanoseconds)
    }

    // MARK: The admin thread's view, taken on the loop

    /// What changed since the last call, and the connections open now.
    struct Changes: Sendable {
        var requests: [(key: Int, counts: [UInt64], durations: [(nanoseconds: Int64, times: Int)])] = []
        var counters: [UInt64] = []
        var connections: [Int] = []
        var upstreamResponses: [(server: Int, durations: [(nanoseconds: Int64, times: Int)])] = []
    }

    func takeChanges() -> Changes {
        var changes = Changes()
        for (key, entry) in series {
            let now = Array(UnsafeBufferPointer(start: entry.now, count: RequestSeries.words))
            guard now != entry.reported else { continue }
            let counts = (0..<RequestSeries.countWords).map { now[$0] &- entry.reported[$0] }
            let durations = now.withUnsafeBufferPointer(entry.durations)
                .increase(since: entry.reported.withUnsafeBufferPointer(entry.durations))
            changes.requests.append((key, counts, durations))
            entry.reported = now
        }
        let counted = Array(UnsafeBufferPointer(start: counters, count: Self.counterCount))
        changes.counters = zip(counted, reportedCounters).map { $0 &- $1 }
        reportedCounters = counted
        changes.connections = Array(UnsafeBufferPointer(start: connections, count: Self.connectionSlots))
        for (server, durations) in upstreamResponses where durations.now != durations.reported {
            changes.upstreamResponses.append((server, durations.now.increase(since: durations.reported)))
            upstreamResponses[server]!.reported = durations.now
        }
        return changes
    }

    static func slot(_ kind: ConnectionKind, _ activity: ConnectionActivity) -> Int {
        kind.index * ConnectionActivity.allCases.count + (activity == .active ? 0 : 1)
    }

    /// A method's place in the counts, and its label.
    static func methodIndex(_ method: HTTPMethod) -> Int {
        switch method {
        case .GET: 0
        case .HEAD: 1
        case .POST: 2
        case .PUT: 3
        case .DELETE: 4
        case .PATCH: 5
        case .OPTIONS: 6
        default: 7
        }
    }

    static let methodLabels = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"]
}
