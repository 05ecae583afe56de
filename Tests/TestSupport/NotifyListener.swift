import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for systemd's notification socket: collects the `sd_notify` datagrams a server sends.
public final class NotifyListener: @unchecked Sendable {
    public let path: String
    public let messages = LineCollector()
    private let fd: CInt

    public init(directory: TestDirectory) throws {
        path = directory.path + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else { throw TestFailure("bind \(path): \(String(cString: strerror(errno)))") }
        let pipe = Pipe()
        messages.read(from: pipe.fileHandleForReading)
        let writer = pipe.fileHandleForWriting
        let socketFD = fd
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(socketFD, &buffer, buffer.count, 0)
                if count <= 0 { break }
                // One datagram may hold several assignments; each becomes a line.
                writer.write(Data(buffer[..<count]) + Data([0x0A]))
            }
        }.start()
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
