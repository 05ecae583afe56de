import NIOCore
import Shared

/// A request whose head has arrived and whose end (and so its response) is pending.
struct RequestInProgress {
    var head: RequestHead
    /// When the head arrived, for `$request_time`.
    var start: NIODeadline
}
