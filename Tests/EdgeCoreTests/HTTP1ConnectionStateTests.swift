import Testing

@testable import EdgeCore

@Suite struct HTTP1ConnectionStateTests {
    @Test func keepAliveCycle() {
        var state = HTTP1ConnectionState()
        #expect(state.connectionOpened() == .armTimer(.header))
        #expect(state.headReceived(keepAlive: true) == (true, .armTimer(.header)))
        #expect(state.willKeepAlive(responseClosesConnection: false))
        #expect(state.responseWritten(responseClosesConnection: false) == (false, .armTimer(.keepalive)))
        #expect(state.phase == .awaitingHead(receivedBytes: false))
    }

    @Test func partialHeadSwitchesToHeaderTimeout() {
        var state = HTTP1ConnectionState()
        _ = state.connectionOpened()
        #expect(state.bytesReceived() == .armTimer(.header))
        #expect(state.bytesReceived() == .none)  // already timing the head
        #expect(state.headReceived(keepAlive: true) == (true, .none))
    }

    @Test func clientAskingToCloseGetsClosed() {
        var state = HTTP1ConnectionState()
        _ = state.headReceived(keepAlive: false)
        #expect(!state.willKeepAlive(responseClosesConnection: false))
        #expect(state.responseWritten(responseClosesConnection: false) == (true, .closeAfterPendingWrites))
        #expect(state.headReceived(keepAlive: true).process == false)
    }

    @Test func quiesceClosesIdleAtOnceAndBusyAfterResponse() {
        var idle = HTTP1ConnectionState()
        _ = idle.headReceived(keepAlive: true)
        _ = idle.responseWritten(responseClosesConnection: false)
        #expect(idle.quiesce() == .closeAfterPendingWrites)

        // A connection just accepted gets its first request answered (with Connection: close), not closed unread:
        // its request may already be on the way.
        var fresh = HTTP1ConnectionState()
        #expect(fresh.quiesce() == .none)
        #expect(fresh.headReceived(keepAlive: true).process)
        #expect(!fresh.willKeepAlive(responseClosesConnection: false))
        #expect(fresh.responseWritten(responseClosesConnection: false) == (true, .closeAfterPendingWrites))

        var busy = HTTP1ConnectionState()
        _ = busy.headReceived(keepAlive: true)
        #expect(busy.quiesce() == .none)
        #expect(!busy.willKeepAlive(responseClosesConnection: false))
        #expect(busy.responseWritten(responseClosesConnection: false) == (true, .closeAfterPendingWrites))
    }

    @Test func timeoutsSend408OnlyWhenARequestHadStarted() {
        var silent = HTTP1ConnectionState()
        #expect(silent.timedOut(.header) == (false, .closeAfterPendingWrites))

        var idleKeepAlive = HTTP1ConnectionState()
        #expect(idleKeepAlive.timedOut(.keepalive) == (false, .closeAfterPendingWrites))

        var slow = HTTP1ConnectionState()
        _ = slow.bytesReceived()
        #expect(slow.timedOut(.header) == (true, .closeAfterPendingWrites))
        #expect(slow.timedOut(.header) == (false, .none))  // already closing
    }
}
