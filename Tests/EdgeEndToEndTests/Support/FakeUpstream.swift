import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// An upstream on a Unix socket whose behaviour a test scripts: misbehaving on purpose, or answering only on the
/// test's cue. Each accepted connection gets `behaviour` for every request it sends; the request lines received
/// are recorded, so a test can tell which server got what and how often.
final class FakeUpstream: @unchecked Sendable {
    enum Behaviour: Sendable {
        /// A valid keep-alive response, after which the server closes the connection while it is idle.
        case answerThenCloseIdle
        /// Bytes that are not HTTP.
        case garbage
        /// A head promising 100 bytes, 10 of them, then a reset.
        case resetMidResponse
        /// Switches protocols (101) and then echoes every byte back, like a WebSocket echo server.
        case upgradeEcho
        /// The same complete response to every request, keeping the connection; a `HEAD` gets its head only.
        case fixed(String)
        /// Answers a connection's first request and keeps it; takes the second, sends `partial` (perhaps nothing)
        /// and closes. This is the race of an upstream closing a pooled connection just as Edge reuses it, made
        /// certain instead of timed.
        case closeOnReuse(sending: String)
        /// Sends `first` for each request, holds the rest until the test calls `release()`, then sends `rest` and
        /// keeps the connection: an upstream whose pace the test controls (a slow app, a stream of events).
        case onCue(first: String, rest: String)
        /// Never answers: reads a chunked request body until the connection closes, counting its bytes.
        case swallowChunkedBody

        /// Server-sent events, chunked: `data: 0` at once, `data: 1` and the end on the test's cue.
        static let eventStream = onCue(
            first:
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: 0\n\n\r\n",
            rest: "9\r\ndata: 1\n\n\r\n0\r\n\r\n")
    }

    let path: String
    private let fd: CInt
    private let lock = NSLock()
    private var _connections = 0
    private var _closed = 0
    private var _requestLines: [String] = []
    private let cue = DispatchSemaphore(value: 0)
    private var _bodyBytes = 0

    var connections: Int {
        lock.lock()
        defer { lock.unlock() }
        return _connections
    }

    /// Connections this server has closed so far.
    var closed: Int {
        lock.lock()
        defer { lock.unlock() }
        return _closed
    }

    /// Every request line received so far, in order, without the version (`GET /x`).
    var requestLines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return _requestLines
    }

    /// Body bytes (chunk framing removed) received by `.swallowChunkedBody` so far.
    var bodyBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return _bodyBytes
    }

    /// Lets one request held by `.onCue` finish.
    func release() {
        cue.signal()
    }

    /// Waits until this server has received `count` requests in all.
    func waitForRequests(_ count: Int, timeout: TimeInterval = 10) -> Bool {
        eventually(within: timeout) { requestLines.count >= count }
    }

    /// Waits until this server has closed at least `count` connections.
    func waitForClosed(_ count: Int, timeout: TimeInterval = 10) -> Bool {
        eventually(within: timeout) { closed >= count }
    }

    init(directory: TestDirectory, name: String, behaviour: Behaviour) throws {
        path = directory.path + "/" + name
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            throw TestFailure("fake upstream: \(String(cString: strerror(errno)))")
        }
        let listener = fd
        // Holds the server weakly: when the test lets go of it, `deinit` shuts the listener down, which ends this
        // `accept`. (Connections being served hold it until they close.)
        Thread { [weak self] in
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                guard let self else {
                    close(connection)
                    return
                }
                lock.lock()
                _connections += 1
                lock.unlock()
                Thread { [self] in
                    serve(connection, behaviour)
                    lock.lock()
                    _closed += 1
                    lock.unlock()
                }.start()
            }
        }.start()
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func serve(_ connection: CInt, _ behaviour: Behaviour) {
        defer { close(connection) }
        var pending = [UInt8]()
        var scratch = [UInt8](repeating: 0, count: 4096)
        var requestsOnThisConnection = 0
        while true {
            // Wait for one whole request head (the tests send no bodies here).
            while !pending.containsHeadEnd {
                let count = recv(connection, &scratch, scratch.count, 0)
                if count <= 0 { return }
                pending += scratch[..<count]
            }
            let isHEAD = pending.starts(with: Array("HEAD ".utf8))
            record(requestLineOf: pending)
            requestsOnThisConnection += 1
            var afterHead = Array(pending[(pending.headEnd! + 4)...])
            pending.removeAll()
            switch behaviour {
            case .answerThenCloseIdle:
                send(connection, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
                // Keeps the close apart from the response, so Edge has pooled the connection when the close comes.
                usleep(50_000)
                return
            case .closeOnReuse(let partial):
                guard requestsOnThisConnection > 1 else {
                    send(connection, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
                    continue
                }
                send(connection, partial)
                return
            case .swallowChunkedBody:
                while true {
                    let count = recv(connection, &scratch, scratch.count, 0)
                    if count <= 0 { break }
                    afterHead += scratch[..<count]
                }
                lock.lock()
                _bodyBytes += afterHead.chunkedPayloadLength
                lock.unlock()
                return
            case .onCue(let first, let rest):
                send(connection, first)
                // Bounded, so a test that fails before releasing does not leave this thread behind for good.
                _ = cue.wait(timeout: .now() + 30)
                send(connection, rest)
            case .garbage:
                send(connection, "THIS IS NOT HTTP\r\n\r\n")
                return
            case .fixed(let response):
                let headEnd = response.range(of: "\r\n\r\n").map { response[..<$0.upperBound] }
                send(connection, isHEAD ? String(headEnd ?? Substring(response)) : response)
            case .upgradeEcho:
                send(connection, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
                while true {
                    let count = recv(connection, &scratch, scratch.count, 0)
                    if count <= 0 { return }
                    _ = scratch.withUnsafeBytes { Glibc.send(connection, $0.baseAddress, count, Int32(MSG_NOSIGNAL)) }
                }
            case .resetMidResponse:
                send(connection, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                var linger = linger(l_onoff: 1, l_linger: 0)
                setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
                return
            }
        }
    }

    private func record(requestLineOf head: [UInt8]) {
        let line = head.prefix { $0 != 13 }
        let withoutVersion = line.lastIndex(of: 32).map { line[..<$0] } ?? line
        lock.lock()
        _requestLines.append(String(decoding: withoutVersion, as: UTF8.self))
        lock.unlock()
    }

    private func send(_ connection: CInt, _ text: String) {
        _ = text.withCString { Glibc.send(connection, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }
}

extension Array where Element == UInt8 {
    /// Where the first `CRLF CRLF` starts.
    var headEnd: Int? {
        guard count >= 4 else { return nil }
        return (0...(count - 4)).first {
            self[$0] == 13 && self[$0 + 1] == 10 && self[$0 + 2] == 13 && self[$0 + 3] == 10
        }
    }

    var containsHeadEnd: Bool { headEnd != nil }

    /// The data bytes of a chunked body, framing removed; a chunk cut short counts with the bytes that came.
    var chunkedPayloadLength: Int {
        var index = 0
        var total = 0
        while let lineEnd = self[index...].firstIndex(of: 10),
            let size = Int(
                String(decoding: self[index..<lineEnd], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
                radix: 16),
            size > 0
        {
            let dataStart = lineEnd + 1
            total += Swift.min(size, count - dataStart)
            index = dataStart + size + 2
            guard index < count else { break }
        }
        return total
    }
}
