import Foundation
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// Memory shared by the master and one worker (a file mapped by both): the worker's heartbeat counters, the
/// request it is serving and since when, and (with the admin listener on) each event loop's request counts,
/// readable by the master without any message passing.
///
/// A blocked event loop stops incrementing its counter, and because the request is written here before the app
/// runs, the master can say which request a silent worker was serving. Updates are plain stores of aligned 64-bit
/// words, each written by one event loop only: a torn read can at worst garble one log line, never a decision,
/// because decisions use only the counters, and the counters only grow.
final class StatusBoard: @unchecked Sendable {
    /// The first page: heartbeats, then the current request's start and text.
    private static let headerSize = 4096
    static let loopSlots = 64
    private static let requestStartOffset = 8 * loopSlots
    private static let requestOffset = 8 * loopSlots + 8
    private static let requestCapacity = headerSize - requestOffset - 8
    /// Then one `WorkerRequestStats.Layout` per event loop.
    static let size = headerSize + loopSlots * WorkerRequestStats.slotBytes

    private let base: UnsafeMutableRawPointer

    /// Maps the board in `descriptor` (created by `create()` in the master, inherited as fd 5 by the worker).
    init(descriptor: CInt) throws {
        guard let memory = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), memory != MAP_FAILED
        else {
            throw ProcessSpawner.SpawnError(reason: "mmap status board: \(String(cString: strerror(errno)))")
        }
        base = memory
    }

    deinit {
        munmap(base, Self.size)
    }

    /// A new zeroed board file, already unlinked so nothing is left on disk; returns its descriptor.
    static func create() throws -> CInt {
        var template = Array((NSTemporaryDirectory() + "appserver-board-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw ProcessSpawner.SpawnError(reason: "status board: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        guard ftruncate(fd, off_t(size)) == 0 else {
            close(fd)
            throw ProcessSpawner.SpawnError(reason: "status board: \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Event loop `slot` is alive: called from that loop's own tick.
    func beat(slot: Int) {
        let counter = base.advanced(by: 8 * (slot % Self.loopSlots)).assumingMemoryBound(to: UInt64.self)
        counter.pointee &+= 1
    }

    /// The heartbeat as the master sees it: changes only when every one of `loops` event loops has ticked.
    func heartbeat(loops: Int) -> UInt64 {
        (0..<max(1, min(loops, Self.loopSlots))).map {
            base.advanced(by: 8 * $0).assumingMemoryBound(to: UInt64.self).pointee
        }.min() ?? 0
    }

    /// What the worker is serving now, e.g. `GET /report (request id 4f2a)`; `nil` when idle.
    var currentRequest: String? {
        let length = Int(requestLength.pointee)
        guard length > 0, length <= Self.requestCapacity else { return nil }
        let bytes = UnsafeRawBufferPointer(start: base.advanced(by: Self.requestOffset + 8), count: length)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Records the request the worker starts serving, e.g. `GET /report (request id 4f2a)`. Written piece by piece
    /// straight into the shared page from the parsed head's bytes: this runs for every request, and building the
    /// line (or even the request id) as a string first showed in the profile.
    func recordRequest(_ head: RequestHead) {
        requestLength.pointee = 0  // a concurrent reader sees "idle" rather than a half-written line
        let text = UnsafeMutableRawBufferPointer(
            start: base.advanced(by: Self.requestOffset + 8), count: Self.requestCapacity)
        var written = 0
        func append(_ bytes: UnsafeRawBufferPointer) {
            let count = min(bytes.count, text.count - written)
            guard count > 0, let source = bytes.baseAddress else { return }
            text.baseAddress!.advanced(by: written).copyMemory(from: source, byteCount: count)
            written += count
        }
        func append(_ literal: StaticString) {
            append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }
        func append(string piece: String) {
            var piece = piece
            piece.withUTF8 { append(UnsafeRawBufferPointer($0)) }
        }
        append(string: head.method.rawValue)
        append(" ")
        append(string: head.target)
        head.headers.withFirstValue("x-request-id") { id in
            append(" (request id ")
            append(id)
            append(")")
        }
        requestLength.pointee = UInt32(written)
        requestStart.pointee = DispatchTime.now().uptimeNanoseconds
    }

    /// Seconds the current request has taken so far; `nil` when idle.
    var currentRequestSeconds: Double? {
        guard requestLength.pointee > 0 else { return nil }
        let start = requestStart.pointee
        let now = DispatchTime.now().uptimeNanoseconds
        return now > start ? Double(now - start) / 1e9 : 0
    }

    /// Event loop `slot`'s request counts (`loopSlots` of them; counted only with the admin listener on).
    func stats(slot: Int) -> WorkerRequestStats.Slot {
        WorkerRequestStats.Slot(
            base: base.advanced(by: Self.headerSize + (slot % Self.loopSlots) * WorkerRequestStats.slotBytes))
    }

    /// The request counts of `loops` event loops, summed.
    func requestStats(loops: Int) -> WorkerRequestStats {
        var total = WorkerRequestStats()
        for slot in 0..<max(1, min(loops, Self.loopSlots)) { total.add(stats(slot: slot).read()) }
        return total
    }

    /// The worker is between requests.
    func recordIdle() {
        requestLength.pointee = 0
    }

    private var requestStart: UnsafeMutablePointer<UInt64> {
        base.advanced(by: Self.requestStartOffset).assumingMemoryBound(to: UInt64.self)
    }

    private var requestLength: UnsafeMutablePointer<UInt32> {
        base.advanced(by: Self.requestOffset).assumingMemoryBound(to: UInt32.self)
    }
}
