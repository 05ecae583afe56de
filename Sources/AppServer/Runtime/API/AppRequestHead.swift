import HTTPTypes
import NIOConcurrencyHelpers

/// `AppRequest.head` and the two facts of it that routing needs: given whole, or built from the parsed head the
/// first time an app reads it.
///
/// A class shared by the copies of one request, so the head is built at most once; locked, because an app may
/// hand its request to another task.
final class AppRequestHead: Sendable {
    let method: HTTPRequest.Method
    let path: String?
    private let state: NIOLockedValueBox<State>

    private enum State {
        case built(HTTPRequest)
        case pending(@Sendable () -> HTTPRequest)
    }

    init(_ head: HTTPRequest) {
        method = head.method
        path = head.path
        state = NIOLockedValueBox(.built(head))
    }

    init(method: HTTPRequest.Method, path: String?, build: @escaping @Sendable () -> HTTPRequest) {
        self.method = method
        self.path = path
        state = NIOLockedValueBox(.pending(build))
    }

    var head: HTTPRequest {
        state.withLockedValue { state in
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
