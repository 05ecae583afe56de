import HTTPTypes
import Synchronization

/// `AppRequest.head` and the two facts of it that routing needs: given whole, or built from the parsed head the
/// first time an app reads it.
///
/// A class shared by the copies of one request, so the head is built at most once; locked, because an app may
/// hand its request to another task. The lock is the standard library's `Mutex`, kept inside this object: a
/// `NIOLockedValueBox` was a second allocation and a `pthread_mutex_t` set up and torn down for every request.
final class AppRequestHead: Sendable {
    let method: HTTPRequest.Method
    let path: String?
    private let state: Mutex<State>

    private enum State {
        case built(HTTPRequest)
        case pending(@Sendable () -> HTTPRequest)
    }

    init(_ head: HTTPRequest) {
        method = head.method
        path = head.path
        state = Mutex(.built(head))
    }

    init(method: HTTPRequest.Method, path: String?, build: @escaping @Sendable () -> HTTPRequest) {
        self.method = method
        self.path = path
        state = Mutex(.pending(build))
    }

    var head: HTTPRequest {
        state.withLock { state in
            switch state {
            case .built(let head):
                return head
            case .pending(let build):
                let head = build()
                state = .built(head)
                return head
            }
        }
    }
}
