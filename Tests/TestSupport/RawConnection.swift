import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection to 127.0.0.1 that sends exact bytes and parses exact responses: what a test needs to
/// check pipelining, malformed requests and slow clients, which high-level clients hide.
public final class RawConnection: @unchecked Sendable {  // a test may send from one thread while reading on another
    /// One parsed response.
    public struct Response {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    private var fd: CInt
    private var buffer: [UInt8] = []

    /// `receiveBuffer` fixes the socket's receive buffer (no autotuning), for tests that pace a slow reader;
    /// `source` is the loopback address the connection comes from (127.0.0.2 is another client to the server).
    public init(port: Int, receiveTimeout: Int = 10, receiveBuffer: Int? = nil, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        if let source {
            guard Self.withAddress(source, port: 0, { Glibc.bind(fd, $0, $1) }) == 0 else {
                Glibc.close(fd)
                throw TestFailure("bind to \(source): \(String(cString: strerror(errno)))")
            }
        }
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer.map(CInt.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        guard Self.withAddress("127.0.0.1", port: port, { Glibc.connect(fd, $0, $1) }) == 0 else {
            Glibc.close(fd)
            throw TestFailure("connect to port \(port): \(String(cString: strerror(errno)))")
        }
    }

    /// Calls `body` (`bind`, `connect`) with the IPv4 socket address of `host` and `port`.
    private static func withAddress(
        _ host: String, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> CInt
    ) -> CInt {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// A connection to the Unix socket at `path`.
    public init(unixPath path: String, receiveTimeout: Int = 10) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw TestFailure("connect to \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Closes the connection now (as a client that gives up would).
    public func close() {
        Glibc.close(fd)
        fd = -1
    }

    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw TestFailure("send: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    /// Reads one response; `isHead` says the response has no body whatever its Content-Length.
    public func readResponse(isHead: Bool = false) throws -> Response {
        let headEnd = try readUntil([13, 10, 13, 10])
        let headText = String(decoding: buffer[..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ")
        // Strict about the start, so bytes left over from a previous response (a desync) fail the test.
        guard statusLine.hasPrefix("HTTP/1."), parts.count >= 2, let status = Int(parts[1]) else {
            throw TestFailure("bad status line \(statusLine)")
        }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var response = Response(status: status, headers: headers, body: [])
        if !isHead && status != 304 && status != 204, response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            response.body = try readChunkedBody()
            return response
        }
        let length = isHead || status == 304 ? 0 : Int(response.header("Content-Length") ?? "0") ?? 0
        while buffer.count < length {
            guard try fill() else {
                throw TestFailure("connection closed after \(buffer.count) of \(length) body bytes")
            }
        }
        response.body = Array(buffer[..<length])
        buffer.removeFirst(length)
        return response
    }

    /// A chunked body (RFC 9112 §7.1), decoded; trailers are skipped.
    private func readChunkedBody() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let lineEnd = try readUntil([13, 10])
            let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            buffer.removeFirst(lineEnd + 2)
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw TestFailure("bad chunk size line '\(sizeText)'")
            }
            if size == 0 {
                while true {
                    let trailerEnd = try readUntil([13, 10])
                    buffer.removeFirst(trailerEnd + 2)
                    if trailerEnd == 0 { return body }
                }
            }
            while buffer.count < size + 2 {
                guard try fill() else { throw TestFailure("connection closed inside a chunk") }
            }
            body += buffer[..<size]
            buffer.removeFirst(size + 2)
        }
    }

    /// Raw bytes as they arrive (at least one), for tests that watch a response being streamed.
    public func readAvailable() throws -> [UInt8] {
        while buffer.isEmpty { guard try fill() else { return [] } }
        defer { buffer.removeAll() }
        return buffer
    }

    /// Reads bytes as they arrive until `isEnough` holds for all of them, and returns them. Throws if the connection
    /// closes first or nothing arrives within the receive timeout, so a response held back fails the test.
    public func readBytes(until isEnough: ([UInt8]) throws -> Bool) throws -> [UInt8] {
        var received: [UInt8] = []
        while try !isEnough(received) {
            let more = try readAvailable()
            guard !more.isEmpty else { throw TestFailure("connection closed after \(received.count) bytes") }
            received += more
        }
        return received
    }

    /// Reads text as it arrives until it contains `marker` (or, with `atEnd`, ends with it), and returns it all.
    /// Throws as `readBytes(until:)` does, so a response held back fails the test.
    public func readText(until marker: String, atEnd: Bool = false) throws -> String {
        String(
            decoding: try readBytes { bytes in
                let text = String(decoding: bytes, as: UTF8.self)
                return atEnd ? text.hasSuffix(marker) : text.contains(marker)
            }, as: UTF8.self)
    }

    /// Reads (and discards) up to `count` bytes as they arrive; returns how many came.
    public func readSome(_ count: Int) throws -> Int {
        while buffer.isEmpty { guard try fill() else { return 0 } }
        let taken = min(count, buffer.count)
        buffer.removeFirst(taken)
        return taken
    }

    /// Exactly `count` bytes as text, waiting for them.
    public func readExactly(_ count: Int) throws -> String {
        while buffer.count < count {
            guard try fill() else { throw TestFailure("connection closed after \(buffer.count) of \(count) bytes") }
        }
        defer { buffer.removeFirst(count) }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// Whether the peer closes the connection (EOF or reset) before the receive timeout.
    public func waitForClose() -> Bool {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &scratch, scratch.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
            buffer.append(contentsOf: scratch[..<count])
        }
    }

    /// Bytes received but not yet consumed, as text (useful after `waitForClose`).
    public var unreadText: String { String(decoding: buffer, as: UTF8.self) }

    private func readUntil(_ marker: [UInt8]) throws -> Int {
        while true {
            if let index = find(marker) { return index }
            guard try fill() else { throw TestFailure("connection closed before a complete response head") }
        }
    }

    private func find(_ marker: [UInt8]) -> Int? {
        guard buffer.count >= marker.count else { return nil }
        for start in 0...(buffer.count - marker.count)
        where buffer[start..<(start + marker.count)].elementsEqual(marker) {
            return start
        }
        return nil
    }

    private func fill() throws -> Bool {
        var scratch = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &scratch, scratch.count, 0)
        if count == 0 { return false }
        if count < 0 {
            if errno == ECONNRESET { return false }
            throw TestFailure("recv: \(String(cString: strerror(errno)))")
        }
        buffer.append(contentsOf: scratch[..<count])
        return true
    }
}

/// Sends one request on a fresh connection and reads the response.
public func fetch(_ port: Int, _ request: String, isHead: Bool = false) throws -> RawConnection.Response {
    let connection = try RawConnection(port: port)
    try connection.send(request)
    return try connection.readResponse(isHead: isHead)
}

/// `GET path` with a Host header and any extra header lines.
public func get(_ port: Int, _ path: String, _ headers: String...) throws -> RawConnection.Response {
    let extra = headers.map { $0 + "\r\n" }.joined()
    return try fetch(port, "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\(extra)\r\n")
}
