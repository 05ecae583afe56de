import NIOCore

/// One value per event loop of a group, created on that loop's thread and found by the loop a channel runs on:
/// what lets the request path keep its caches and buffers without locks.
public struct PerLoop<Value>: Sendable {
    private let entries: [NIOLoopBound<Value>]

    /// Creates a value for every loop of `group` with `make`, on that loop.
    public init(group: any EventLoopGroup, make: @escaping @Sendable () -> Value) throws {
        var entries: [NIOLoopBound<Value>] = []
        for loop in group.makeIterator() {
            entries.append(try loop.submit { NIOLoopBound(make(), eventLoop: loop) }.wait())
        }
        self.entries = entries
    }

    /// The value of `loop`; must be called on that loop.
    public func forLoop(_ loop: any EventLoop) -> Value {
        for entry in entries where entry.eventLoop === loop { return entry.value }
        preconditionFailure("no value for event loop \(loop)")
    }

    /// Runs `body` on every loop with that loop's value every `interval`, until the loops shut down.
    public func every(_ interval: TimeAmount, _ body: @escaping @Sendable (Value) -> Void) {
        for entry in entries {
            entry.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in body(entry.value) }
        }
    }

    /// Runs `body` on every loop with that loop's value, and waits for all of them.
    public func forEach(_ body: @escaping @Sendable (Value) -> Void) async {
        for entry in entries {
            try? await entry.eventLoop.submit { body(entry.value) }.get()
        }
    }
}
