import Shared

#if canImport(Glibc)
import Glibc
#endif

/// Everything `appserver` reads from its YAML file (DESIGN.md §4); command-line flags override it.
struct AppServerConfig: Sendable {
    var bind: BindAddress = .unix(path: "var/run/app.sock")
    /// Permissions of a Unix socket, octal as in `chmod`.
    var socketMode: UInt16 = 0o660
    var workers = 2
    var threadsPerWorker = 1
    /// A worker whose event loop is silent this long is aborted, then killed.
    var timeout: ConfigDuration = .seconds(30)
    var gracefulTimeout: ConfigDuration = .seconds(30)
    /// Idle keep-alive connections are closed after this (must exceed Edge's pooled idle time).
    var keepalive: ConfigDuration = .seconds(120)
    var maxRequests = 0
    var maxRequestsJitter = 0
    /// The kernel scheduling policy of worker processes.
    var workerScheduling: WorkerScheduling = .batch
    /// Peers whose `X-Forwarded-*` headers are believed.
    var forwardedAllow: [ForwardedPeer] = [.user("edge")]
    var accessLog: LogDestination = .standardOutput
    /// Edge's formats, with its field names: `combined` (plus `request_id=`) or `json`.
    var accessLogFormat: AccessLogFormat = .combined
    var pidFile: String?
    var logLevel = "info"
    var logFormat: LogFormat = .text
    /// The admin listener (`/metrics` of the master and every worker, `/status`); none when absent.
    var admin: AdminConfig?
    /// The hosted app's own settings.
    var app: [String: ConfigValue] = [:]

    init() {}
}

extension AppServerConfig: Decodable {
    enum Keys: String, CodingKey, CaseIterable {
        case bind, workers, timeout, keepalive, app, pid
        case socketMode = "socket_mode"
        case threadsPerWorker = "threads_per_worker"
        case gracefulTimeout = "graceful_timeout"
        case maxRequests = "max_requests"
        case maxRequestsJitter = "max_requests_jitter"
        case workerScheduling = "worker_scheduling"
        case forwardedAllow = "forwarded_allow"
        case accessLog = "access_log"
        case accessLogFormat = "access_log_format"
        case logLevel = "log_level"
        case logFormat = "log_format"
        case admin
    }

    init(from decoder: any Decoder) throws {
        self.init()
        guard let container = decoder.strictContainer(keyedBy: Keys.self) else { return }
        bind = container.value(.bind, default: bind, decoder)
        if container.contains(.socketMode) {
            let text: String = container.value(.socketMode, default: "0660", decoder)
            if let mode = Self.parseMode(text) {
                socketMode = mode
            } else {
                decoder.diagnostics.record(
                    "invalid mode '\(text)' (expected octal like \"0660\")", at: decoder.codingPath + [Keys.socketMode])
            }
        }
        workers = container.value(.workers, default: workers, decoder)
        threadsPerWorker = container.value(.threadsPerWorker, default: threadsPerWorker, decoder)
        timeout = container.value(.timeout, default: timeout, decoder)
        gracefulTimeout = container.value(.gracefulTimeout, default: gracefulTimeout, decoder)
        keepalive = container.value(.keepalive, default: keepalive, decoder)
        maxRequests = container.value(.maxRequests, default: maxRequests, decoder)
        maxRequestsJitter = container.value(.maxRequestsJitter, default: maxRequestsJitter, decoder)
        workerScheduling = container.value(.workerScheduling, default: workerScheduling, decoder)
        forwardedAllow = container.value(.forwardedAllow, default: forwardedAllow, decoder)
        accessLog = container.value(.accessLog, default: accessLog, decoder)
        accessLogFormat = container.value(.accessLogFormat, default: accessLogFormat, decoder)
        pidFile = container.value(.pid, default: nil, decoder)
        logLevel = container.value(.logLevel, default: logLevel, decoder)
        logFormat = container.value(.logFormat, default: logFormat, decoder)
        app = container.value(.app, default: app, decoder)
        admin = container.value(.admin, default: nil, decoder)
        validate(into: decoder.diagnostics, path: decoder.codingPath)
    }

    /// Settings that load but probably do not do what was meant: printed by `--check` and logged at start and on
    /// reload.
    var warnings: [String] {
        forwardedAllow.compactMap { peer in
            guard case .user(let name) = peer, getpwnam(name) == nil else { return nil }
            return "forwarded_allow: no user named '\(name)' on this host, so no peer matches it "
                + "(peers running as AppServer's own user are believed all the same)"
        } + [admin?.exposureWarning.map { "admin.listen: \($0)" }].compactMap { $0 }
    }

    static func parseMode(_ text: String) -> UInt16? {
        guard !text.isEmpty, text.count <= 4, let mode = UInt16(text, radix: 8), mode <= 0o777 else { return nil }
        return mode
    }

    func validate(into diagnostics: ConfigDiagnostics, path: [any CodingKey]) {
        if workers < 1 { diagnostics.record("must be at least 1", at: path + [Keys.workers]) }
        if threadsPerWorker < 1 { diagnostics.record("must be at least 1", at: path + [Keys.threadsPerWorker]) }
        if timeout.milliseconds < 1000 { diagnostics.record("must be at least 1s", at: path + [Keys.timeout]) }
        if maxRequests < 0 { diagnostics.record("must be 0 (never) or more", at: path + [Keys.maxRequests]) }
        if maxRequestsJitter < 0 { diagnostics.record("must be 0 or more", at: path + [Keys.maxRequestsJitter]) }
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) {
            diagnostics.record("unknown level '\(logLevel)'", at: path + [Keys.logLevel])
        }
        // Its warning reaches the user through `warnings`, printed by --check and logged at start.
        admin?.check(against: [bind], into: diagnostics)
    }
}

/// A peer allowed to set `X-Forwarded-*`: a user (Unix-socket peers, checked with `SO_PEERCRED`), a numeric uid,
/// or an address range for TCP peers.
enum ForwardedPeer: Hashable, Sendable, Decodable, CustomStringConvertible {
    case user(String)
    case uid(UInt32)
    case network(CIDR)

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if text.contains("/") || text.contains(".") || text.contains(":") {
            guard let cidr = CIDR(text) else { throw ConfigValueError("invalid address range '\(text)'") }
            self = .network(cidr)
        } else if let uid = UInt32(text) {
            self = .uid(uid)
        } else {
            self = .user(text)
        }
    }

    var description: String {
        switch self {
        case .user(let name): name
        case .uid(let uid): "uid \(uid)"
        case .network(let cidr): cidr.description
        }
    }
}

extension AppServerConfig {
    /// What the master's arbiter needs of the config.
    var arbiterSettings: ArbiterSettings {
        ArbiterSettings(
            workers: workers, timeout: Double(timeout.milliseconds) / 1000,
            gracefulTimeout: Double(gracefulTimeout.milliseconds) / 1000)
    }
}
