import Foundation

/// Collects lines from a pipe on a background thread and lets tests wait for one.
public final class LineCollector: @unchecked Sendable {
    private let condition = NSCondition()
    private var collected: [String] = []
    private var partial = Data()

    public init() {}

    public var lines: [String] {
        condition.lock()
        defer { condition.unlock() }
        return collected
    }

    public var text: String { lines.joined(separator: "\n") }

    public func read(from handle: FileHandle) {
        let thread = Thread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                condition.lock()
                partial.append(data)
                while let newline = partial.firstIndex(of: 0x0A) {
                    collected.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
                    partial.removeSubrange(partial.startIndex...newline)
                }
                condition.broadcast()
                condition.unlock()
            }
        }
        thread.start()
    }

    public func waitFor(containing text: String, timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let line = collected.first(where: { $0.contains(text) }) { return line }
            if !condition.wait(until: deadline) { return collected.first(where: { $0.contains(text) }) }
        }
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension LineCollector {
    /// How many lines contain `text` so far.
    public func count(containing text: String) -> Int {
        lines.filter { $0.contains(text) }.count
    }

    /// Waits until at least `count` lines contain `text`.
    public func waitFor(count: Int, containing text: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while self.count(containing: text) < count {
            if Date() > deadline { return false }
            _ = waitFor(containing: "\u{0}never\u{0}", timeout: 0.05)
        }
        return true
    }
}
