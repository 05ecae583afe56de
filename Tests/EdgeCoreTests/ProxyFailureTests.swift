import NIOHTTP1
import Testing

@testable import EdgeCore

@Suite struct ProxyFailureTests {
    @Test(arguments: [
        (ProxyFailure.noServerReachable(upstream: "app"), 502, false),
        (.connectFailed(server: "unix:app.sock", reason: "refused"), 502, false),
        (.closedBeforeResponse(reason: "upstream closed the connection"), 502, false),
        (.closedMidResponse(reason: "upstream closed the connection"), 502, false),
        (.malformedResponse(detail: "bad status line"), 502, false),
        (.compressionFailed(reason: "zlib"), 502, false),
        (.responseTimeout, 504, false),
        (.responseStalled, 504, false),
        (.requestBodyTooLarge(limit: 10), 413, true),
        (.requestBodyTimeout, 408, true),
    ])
    func statusAndFault(failure: ProxyFailure, status: Int, clientsFault: Bool) {
        #expect(failure.status.code == status)
        #expect(failure.isClientsFault == clientsFault)
        #expect(!failure.cause.isEmpty && !failure.label.contains(" "))
    }

    /// A failed connect sent nothing: any method, any body, another attempt, up to the limit.
    @Test func aFailedConnectIsRetriedForAnyMethodUpToTheLimit() {
        let failure = ProxyFailure.connectFailed(server: "s", reason: "refused")
        #expect(failure.allowsRetry(attempts: 1, connectionWasReused: false, method: .POST, bodyBytesSent: 0))
        #expect(failure.allowsRetry(attempts: 3, connectionWasReused: false, method: .POST, bodyBytesSent: 0))
        #expect(
            !failure.allowsRetry(
                attempts: ProxyFailure.maxAttempts, connectionWasReused: false, method: .GET, bodyBytesSent: 0))
    }

    /// A close before the response is retried only when the request surely never reached the app and repeating it
    /// is harmless: a reused idle connection, no body byte sent, an idempotent method.
    @Test func aCloseBeforeTheResponseIsRetriedOnlyWhenItCannotRepeatAnAction() {
        let failure = ProxyFailure.closedBeforeResponse(reason: "upstream closed the connection")
        #expect(failure.allowsRetry(attempts: 1, connectionWasReused: true, method: .GET, bodyBytesSent: 0))
        #expect(failure.allowsRetry(attempts: 1, connectionWasReused: true, method: .PUT, bodyBytesSent: 0))
        #expect(!failure.allowsRetry(attempts: 1, connectionWasReused: false, method: .GET, bodyBytesSent: 0))
        #expect(!failure.allowsRetry(attempts: 1, connectionWasReused: true, method: .POST, bodyBytesSent: 0))
        #expect(!failure.allowsRetry(attempts: 1, connectionWasReused: true, method: .PUT, bodyBytesSent: 1))
        #expect(!failure.allowsRetry(attempts: 4, connectionWasReused: true, method: .GET, bodyBytesSent: 0))
    }

    /// Anything that may have reached the app is never sent again.
    @Test(arguments: [
        ProxyFailure.malformedResponse(detail: "x"), .closedMidResponse(reason: "x"), .responseTimeout,
        .responseStalled, .noServerReachable(upstream: "app"),
    ])
    func othersAreNeverRetried(failure: ProxyFailure) {
        #expect(!failure.allowsRetry(attempts: 1, connectionWasReused: true, method: .GET, bodyBytesSent: 0))
    }
}
