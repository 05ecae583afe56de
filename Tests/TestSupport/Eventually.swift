import Foundation

/// Checks `condition` every `interval` seconds until it holds or `timeout` seconds pass, and says whether it held.
///
/// Tests wait on a fact they can observe (a process exited, a file appeared, a connection closed) this way rather
/// than sleeping a fixed time: a fast machine moves on at once and a slow one gets the whole `timeout`. The condition
/// is checked once more at the deadline so a fact that becomes true during the last pause still counts.
@discardableResult
public func eventually(
    within timeout: TimeInterval,
    pollingEvery interval: TimeInterval = 0.01,
    _ condition: () throws -> Bool
) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(useconds_t(interval * 1_000_000))
    }
    return try condition()
}
