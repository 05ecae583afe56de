import NIOCore
import Shared

/// A request whose head has arrived and whose end (and so its response) is pending.
///
/// A class: the connection stores, tests and clears it several times per request, and as an optional struct each
/// of those copied or destroyed the whole head through generic value witnesses (visible in the profile).
final class RequestInProgress {
    let head: RequestHead
    /// When the head arrived, for `$request_time`.
    let start: NIODeadline

    init(head: RequestHead, start: NIODeadline) {
        self.head = head
        self.start = start
    }
}
