import Shared
import Testing

@testable import AppServer

/// The master rebuilds each worker's duration histogram from its board: bucket counts, count and sum exact.
@Suite struct WorkerRequestStatsTests {
    /// Records `durations` (nanoseconds) in a board slot in memory and reads it back.
    private func stats(
        after durations: [Int64], statuses: [Int]? = nil, on memory: UnsafeMutableRawPointer
    )
        -> WorkerRequestStats
    {
        let slot = WorkerRequestStats.Slot(base: memory)
        for (index, duration) in durations.enumerated() {
            slot.requestStarted()
            slot.requestFinished(status: statuses?[index] ?? 200, nanoseconds: duration)
        }
        return slot.read()
    }

    @Test func theIncreaseGivesExactBucketsCountAndSum() {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: WorkerRequestStats.slotBytes, alignment: 8)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: WorkerRequestStats.slotBytes)
        defer { memory.deallocate() }
        let first = stats(after: [300_000, 700_000, 4_000_000], on: memory)
        let second = stats(
            after: [1_000_001, 1_999_999, 1_500_000, 45_000_000_000], statuses: [200, 404, 503, 200], on: memory)
        let values = second.durations.increase(since: first.durations)
        // Replayed into buckets, the values land exactly where the worker counted them.
        var buckets = [Int](repeating: 0, count: BucketedDurations.bucketCount)
        var sum: Int64 = 0
        for (nanoseconds, times) in values {
            buckets[BucketedDurations.bucket(of: UInt64(nanoseconds))] += times
            sum += nanoseconds * Int64(times)
        }
        #expect(buckets[1] == 3)  // 1 ms < d <= 2 ms
        #expect(buckets.last == 1)  // above 30 s
        #expect(buckets.reduce(0, +) == 4)
        #expect(sum == 1_000_001 + 1_999_999 + 1_500_000 + 45_000_000_000)
        #expect(second.byStatusClass == [0, 5, 0, 1, 1])  // the cumulative counts, first three included
        #expect(second.started == 7 && second.finished == 7 && second.inFlight == 0)
        #expect(second.durations.increase(since: second.durations).isEmpty)
    }

    @Test func anAbandonedRequestLeavesFlightUnanswered() {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: WorkerRequestStats.slotBytes, alignment: 8)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: WorkerRequestStats.slotBytes)
        defer { memory.deallocate() }
        let slot = WorkerRequestStats.Slot(base: memory)
        slot.requestStarted()
        slot.requestStarted()
        #expect(slot.read().inFlight == 2)
        slot.requestAbandoned()
        #expect(slot.read().inFlight == 1)
        #expect(slot.read().answered == 0)
    }
}
