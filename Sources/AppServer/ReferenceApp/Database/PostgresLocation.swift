import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a PostgreSQL database is, from a libpq-style URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` over TCP,
/// or `postgres:///DB?host=/run/postgresql` (a socket directory) over a Unix socket. `user=` and `port=` may be
/// given as query parameters too; without a user, the process's own user name is used, as `psql` does.
struct PostgresLocation: Equatable, Sendable {
    enum Address: Equatable, Sendable {
        case tcp(host: String, port: Int)
        /// The socket file itself: `DIRECTORY/.s.PGSQL.PORT`.
        case unixSocket(path: String)
    }

    var address: Address
    var user: String
    var password: String?
    var database: String
    /// `sslmode=require`: TLS over TCP (never over a Unix socket).
    var requiresTLS: Bool

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init(url text: String) throws {
        guard let url = URLComponents(string: text), url.scheme == "postgres" || url.scheme == "postgresql" else {
            throw Invalid(description: "'\(text)' is not a postgres:// URL")
        }
        let query = Dictionary(
            (url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty else { throw Invalid(description: "'\(text)' names no database (…/DBNAME)") }
        let port = url.port ?? query["port"].flatMap(Int.init) ?? 5432
        let socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        if let socketDirectory {
            address = .unixSocket(path: "\(socketDirectory)/.s.PGSQL.\(port)")
        } else if let host = url.host, !host.isEmpty {
            address = .tcp(host: host, port: port)
        } else {
            throw Invalid(description: "'\(text)' names no host: postgres://HOST/DB, or ?host=/SOCKET/DIRECTORY")
        }
        guard let user = url.user ?? query["user"] ?? Self.processUser() else {
            throw Invalid(description: "'\(text)' names no user, and the process's user has no name")
        }
        self.user = user
        password = url.password ?? query["password"]
        self.database = database
        requiresTLS = query["sslmode"] == "require"
        if requiresTLS, case .unixSocket = address {
            throw Invalid(description: "'\(text)': sslmode=require is for TCP, not a Unix socket")
        }
    }

    private static func processUser() -> String? {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
