import NIOCore
import Shared

/// What each event loop owns for itself, so the request path takes no locks: the `Date` cache, the open-file
/// cache and the access log batch.
public final class LoopResources {
    public let dates = DateCache()
    public let files: OpenFileCache
    public let accessLog: AccessLogBuffer

    public init(files: OpenFileCache, accessLog: AccessLogBuffer) {
        self.files = files
        self.accessLog = accessLog
    }
}

/// One `LoopResources` per event loop of a group, found by the loop a channel runs on.
public struct PerLoopResources: Sendable {
    private let entries: [NIOLoopBound<LoopResources>]

    /// Creates resources for every loop of `group` with `make`, on that loop's thread.
    public init(group: any EventLoopGroup, make: @escaping @Sendable () -> LoopResources) throws {
        var entries: [NIOLoopBound<LoopResources>] = []
        for loop in group.makeIterator() {
            entries.append(try loop.submit { NIOLoopBound(make(), eventLoop: loop) }.wait())
        }
        self.entries = entries
    }

    /// The resources of `loop`; must be called on that loop.
    public func forLoop(_ loop: any EventLoop) -> LoopResources {
        for entry in entries where entry.eventLoop === loop { return entry.value }
        preconditionFailure("no resources for event loop \(loop)")
    }

    /// Runs `body` on every loop with that loop's resources every `interval`, until the loops shut down.
    public func every(_ interval: TimeAmount, _ body: @escaping @Sendable (LoopResources) -> Void) {
        for entry in entries {
            entry.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in body(entry.value) }
        }
    }

    /// Runs `body` on every loop with that loop's resources, and waits for all of them.
    public func forEach(_ body: @escaping @Sendable (LoopResources) -> Void) async {
        for entry in entries {
            try? await entry.eventLoop.submit { body(entry.value) }.get()
        }
    }
}
