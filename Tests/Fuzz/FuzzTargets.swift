import EdgeCore
import Foundation
import NIOCore
import Shared

/// What each fuzz target feeds the bytes to. Every target must return normally for any input: a crash, a trap or a
/// sanitizer report is a bug, which then becomes a unit test.
enum FuzzTarget: String, CaseIterable {
    case requestParser = "request-parser"
    case responseParser = "response-parser"
    case chunkedBody = "chunked-body"
    case range
    case acceptEncoding = "accept-encoding"
    case requestPath = "request-path"
    case forwarded
    case config

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .requestParser:
            Self.parseRequests(ByteBuffer(bytes: bytes))
        case .chunkedBody:
            var buffer = ByteBuffer(string: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            buffer.writeBytes(bytes)
            Self.parseRequests(buffer)
        case .responseParser:
            var parser = HTTP1ResponseParser(maxHeadSize: 16 * 1024)
            parser.expectResponse(toHEAD: bytes.first.map { $0 & 1 == 1 } ?? false)
            parser.append(ByteBuffer(bytes: bytes))
            while let event = try? parser.next() {
                if case .end = event { parser.expectResponse(toHEAD: false) }
            }
            _ = try? parser.connectionClosed()
        case .range:
            let size = bytes.first.map { Int($0) << 12 } ?? 0
            _ = ByteRange.decide(Substring(String(decoding: bytes.dropFirst(), as: UTF8.self)), size: size)
        case .acceptEncoding:
            _ = AcceptEncoding.allowsGzip(String(decoding: bytes, as: UTF8.self))
            var reading = AcceptEncoding.Reading()
            reading.read(bytes)
        case .requestPath:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = RequestPath.decode(Substring(text))
            _ = RequestPath.decode(Substring(text), allowingDotfiles: true)
        case .forwarded:
            var parser = HTTP1RequestParser(limits: .init(maxURILength: 8192, maxHeaderSize: 16384))
            var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n")
            buffer.writeBytes(bytes)
            buffer.writeString("\r\n\r\n")
            parser.append(buffer)
            guard case .head(let head)? = try? parser.next() else { return }
            var realIP = RealIPConfig()
            realIP.trusted = [CIDR("0.0.0.0/0")!]
            for header in [RealIPConfig.Header.xForwardedFor, .cfConnectingIP] {
                realIP.header = header
                _ = ProxyHeaders.clientFacts(
                    peer: "10.0.0.1", trusted: true, head: head, realIP: realIP, scheme: "https", port: 443,
                    newRequestID: { "id" })
            }
        case .config:
            let path = NSTemporaryDirectory() + "fuzz-edge-\(getpid()).yaml"
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            _ = try? EdgeConfig.load(from: path)
        }
    }

    private static func parseRequests(_ buffer: ByteBuffer) {
        var parser = HTTP1RequestParser(limits: .init(maxURILength: 8192, maxHeaderSize: 16384, maxHeaderCount: 100))
        parser.append(buffer)
        while let event = try? parser.next() {
            if case .head(let head) = event {
                _ = head.host
                _ = head.headers.first("content-type")
                _ = RequestHeaderFacts(head.headers, forLogging: true)
            }
        }
        _ = parser.refusedRequestLine()
    }
}
