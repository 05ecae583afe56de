import AppServer
import Foundation
import HTTPTypes
import Logging
import NIOCore
import Synchronization

/// The app this repository ships: benchmark routes (TechEmpower rules, database tests included), an echo,
/// streaming uploads, a health check, and — only with `app.test_routes: true` — routes the test suite uses to
/// misbehave on purpose.
struct ReferenceApp: HTTPApplication {
    /// Set in `boot`; workers are separate processes, so this is per worker.
    private let state = BootState()

    func boot(settings: AppSettings) async throws {
        let mediaDirectory = try settings.path("media_dir", default: "var/media")
        // Failing here is an app load failure: the worker exits with its own code.
        try FileManager.default.createDirectory(atPath: mediaDirectory, withIntermediateDirectories: true)
        guard FileManager.default.isWritableFile(atPath: mediaDirectory) else {
            throw BootError(message: "media_dir \(mediaDirectory) is not writable")
        }
        let logger = Logger(label: "appserver.app")
        // A database setting that cannot be used fails the boot; a database that is down does not (below).
        let database = DatabaseReadiness(database: try AppDatabases.open(settings: settings, logger: logger))
        state.set(
            mediaDirectory: mediaDirectory, testRoutes: try settings.bool("test_routes", default: false),
            database: database, logger: logger, workerLoops: settings.eventLoopGroup)
        do {
            _ = try await database.ready()
        } catch {
            logger.error(
                "database not ready; its routes answer 503 until it is", metadata: ["cause": "\(error)"])
        }
    }

    func shutdown() async {
        await state.database?.database.close()
    }

    /// `init-db`: creates the schema if missing and loads the data anew (new random numbers for every world,
    /// TechEmpower's fortunes), for the database `app.database` names.
    func run(command: String, settings: AppSettings) async throws {
        guard command == "init-db" else { throw UnknownCommand(name: command) }
        let database = try AppDatabases.open(settings: settings, logger: Logger(label: "appserver.app"))
        do {
            try await database.migrate()
            try await database.reload()
        } catch {
            await database.close()
            throw error
        }
        await database.close()
        print("init-db: \(AppDatabases.worldCount) worlds and \(Fortunes.stored.count) fortunes loaded")
    }

    func handle(_ request: AppRequest, writer: some ResponseWriter) async throws {
        // `request.method` and `request.path` leave the header fields unbuilt: the benchmark routes never read them.
        let path = request.path ?? "/"
        // The path without its query, as a view: no array and no new string per request. Searched as bytes:
        // `String.firstIndex(of: Character)` breaks graphemes and cost more than the rest of routing.
        let route = path.utf8.firstIndex(of: UInt8(ascii: "?")).map { path[..<$0] } ?? path[...]
        // HEAD is answered as GET: the worker sends its head without the body.
        let method = request.method == .head ? .get : request.method
        switch (method, route) {
        case (.get, "/"):
            try await HomePage.respond(uploads: await recentUploads(), writer: writer)
        case (.get, "/plaintext"):
            try await writer.write(Plaintext.head, body: Plaintext.body)
        case (.get, "/json"):
            try await writer.write(.text("application/json"), body: try Greeting.helloWorld.json())
        case (.get, "/healthz"):
            try await writer.write(.text("text/plain"), body: ByteBuffer(string: "ok\n"))
        case (.get, "/db"), (.get, "/queries"), (.get, "/updates"), (.get, "/fortunes"), (.get, "/cached-queries"):
            try await answerFromDatabase(route, path: path, writer: writer)
        case (_, "/echo"):
            try await Echo.respond(to: request, writer: writer)
        case (.post, "/upload"):
            guard let readiness = state.database else { throw DatabaseUnavailable(reason: "no database") }
            try await Upload.respond(
                to: request, directory: state.mediaDirectory, database: try await readiness.ready().database,
                writer: writer)
        case (_, let testRoute) where testRoute.hasPrefix("/__test/") && state.testRoutes:
            try await TestRoutes.respond(
                to: request, route: String(testRoute), workerLoops: state.workerLoops, writer: writer)
        case (_, let known) where Self.allowedMethods[known] != nil:
            var response = HTTPResponse.text("text/plain")
            response.status = .methodNotAllowed
            response.headerFields[.allow] = Self.allowedMethods[known]
            try await writer.write(response, body: ByteBuffer(string: "405 Method Not Allowed\n"))
        default:
            var response = HTTPResponse.text("text/plain")
            response.status = .notFound
            try await writer.write(response, body: ByteBuffer(string: "404 Not Found\n"))
        }
    }

    /// The home page's list; a database that cannot answer leaves the list out rather than the page.
    private func recentUploads() async -> [StoredUpload]? {
        do {
            return try await state.database?.ready().database.recentUploads(limit: 20)
        } catch {
            if state.databaseWarnings.shouldLog() {
                state.logger.error(
                    "database unavailable; the home page lists no uploads", metadata: ["cause": "\(error)"])
            }
            return nil
        }
    }

    /// The database routes; a database that cannot answer gets 503 at once, and its cause logged at most once a
    /// second (a database that is down would otherwise log every request).
    private func answerFromDatabase(_ route: Substring, path: String, writer: some ResponseWriter) async throws {
        guard let readiness = state.database else { throw DatabaseUnavailable(reason: "no database") }
        let answer: WorldRoutes.Answer
        do {
            let (database, cache) = try await readiness.ready()
            switch route {
            case "/db": answer = try await WorldRoutes.db(database: database)
            case "/queries": answer = try await WorldRoutes.queries(path, database: database)
            case "/updates": answer = try await WorldRoutes.updates(path, database: database)
            case "/fortunes": answer = try await Fortunes.answer(database: database)
            default: answer = try WorldRoutes.cachedQueries(path, cache: cache)
            }
        } catch let error where !(error is CancellationError) && !Task.isCancelled {
            // (A cancelled task is a client that left: not the database's failure.)
            if !(error is DatabaseUnavailable) { readiness.failed(error) }
            if state.databaseWarnings.shouldLog() {
                // `reflecting`: postgres-nio's errors describe themselves in general words otherwise.
                state.logger.error(
                    "database unavailable; answering 503", metadata: ["cause": "\(String(reflecting: error))"])
            }
            var response = HTTPResponse.text("text/plain")
            response.status = .serviceUnavailable
            response.headerFields[.retryAfter] = "1"
            try await writer.write(response, body: ByteBuffer(string: "503 Service Unavailable\n"))
            return
        }
        try await writer.write(answer.head, body: answer.body)
    }

    /// The routes above that answer only some methods, for the `Allow` field of a 405.
    private static let allowedMethods: [Substring: String] = [
        "/": "GET, HEAD", "/plaintext": "GET, HEAD", "/json": "GET, HEAD", "/healthz": "GET, HEAD", "/upload": "POST",
        "/db": "GET, HEAD", "/queries": "GET, HEAD", "/updates": "GET, HEAD", "/fortunes": "GET, HEAD",
        "/cached-queries": "GET, HEAD",
    ]
}

/// TechEmpower's plaintext answer. The same head and bytes every time, so made once: building an `HTTPResponse`
/// allocates its storage and looks its fields up, and both copies here share storage (a copy is a retain).
enum Plaintext {
    static let head = HTTPResponse.text("text/plain")
    static let body = ByteBuffer(string: "Hello, World!")
}

/// TechEmpower's JSON answer. Their rules ask for an object made and serialised on every request, so a JSON
/// benchmark measures the encoder rather than a cached string.
struct Greeting: Encodable {
    var message: String

    static var helloWorld: Greeting { Greeting(message: "Hello, World!") }

    func json() throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(self))
    }
}

struct BootError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Settings decided at boot, read by every request.
final class BootState: @unchecked Sendable {  // written once in boot, before any request
    private(set) var mediaDirectory = "var/media"
    private(set) var testRoutes = false
    private(set) var database: DatabaseReadiness?
    private(set) var logger = Logger(label: "appserver.app")
    /// The worker's event loops, as `AppSettings` gave them.
    private(set) var workerLoops: (any EventLoopGroup)?
    let databaseWarnings = OncePerSecond()

    func set(
        mediaDirectory: String, testRoutes: Bool, database: DatabaseReadiness, logger: Logger,
        workerLoops: (any EventLoopGroup)?
    ) {
        self.mediaDirectory = mediaDirectory
        self.testRoutes = testRoutes
        self.database = database
        self.logger = logger
        self.workerLoops = workerLoops
    }
}

/// Says yes at most once a second: for log lines about a cause that repeats with every request.
final class OncePerSecond: Sendable {
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    func shouldLog() -> Bool {
        let now = ContinuousClock.now
        return last.withLock { last in
            if let previous = last, now - previous < .seconds(1) { return false }
            last = now
            return true
        }
    }
}

extension HTTPResponse {
    /// A 200 with `contentType`.
    static func text(_ contentType: String) -> HTTPResponse {
        var response = HTTPResponse(status: .ok)
        response.headerFields[.contentType] = contentType
        return response
    }

    /// The head of a JSON response with `status`; the caller writes the encoded body.
    static func json(status: HTTPResponse.Status = .ok) -> HTTPResponse {
        var response = HTTPResponse(status: status)
        response.headerFields[.contentType] = "application/json"
        return response
    }
}

extension AppRequest {
    /// Query parameters of the request target.
    var query: [String: String] {
        guard let path = head.path, let mark = path.firstIndex(of: "?") else { return [:] }
        var result: [String: String] = [:]
        for pair in path[path.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).removingPercentEncoding ?? String($0)
            }
            result[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return result
    }
}
