import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The current second's `Date` header line and access-log timestamp, formatted once per second per event loop.
///
/// Every response carries a `Date` header; formatting it per request would cost more than serving a small
/// cached file. Not thread-safe by design: each event loop owns one.
public final class DateCache {
    private var second = -1
    private var headerLine = ByteBuffer()
    private var logTime = ""

    /// A cache that formats on first use.
    public init() {}

    /// `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n` for the current second.
    public func dateHeaderLine() -> ByteBuffer {
        refreshIfNeeded()
        return headerLine
    }

    /// nginx's `$time_local` in UTC: `06/Nov/1994:08:49:37 +0000`.
    public func accessLogTime() -> String {
        refreshIfNeeded()
        return logTime
    }

    private func refreshIfNeeded() {
        let now = time(nil)
        guard now != second else { return }
        second = now
        headerLine = ByteBuffer(string: "Date: \(HTTPDate.format(now))\r\n")
        let parts = CivilTime(epochSeconds: now)
        func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        logTime =
            "\(pad(parts.day))/\(HTTPDate.months[parts.month - 1])/\(parts.year):"
            + "\(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second)) +0000"
    }
}
