import Foundation
import Shared

extension EdgeConfig {
    /// Reads, decodes and validates `path`: relative paths become absolute against the file's directory, route
    /// directories and log files are checked on disk. Throws `ConfigProblems` naming every problem found.
    /// - Returns: the usable config and any warnings.
    public static func load(from path: String) throws -> (config: EdgeConfig, warnings: [ConfigProblem]) {
        var (config, diagnostics) = try ConfigFile.load(EdgeConfig.self, from: path)
        config.resolvePaths(relativeTo: path)
        config.validate(into: diagnostics)
        try diagnostics.throwIfErrors()
        return (config, diagnostics.problems.filter(\.isWarning))
    }

    mutating func resolvePaths(relativeTo configFile: String) {
        for index in routes.indices where !routes[index].dir.isEmpty {
            routes[index].dir = ConfigFile.resolve(routes[index].dir, relativeTo: configFile)
        }
        accessLog = accessLog.resolved(relativeTo: configFile)
        admin = admin?.resolved(relativeTo: configFile)
        errorPages = errorPages.mapValues { ConfigFile.resolve($0, relativeTo: configFile) }
        for (name, upstream) in upstreams {
            upstreams[name]!.servers = upstream.servers.map { server in
                if case .unix(let socketPath) = server {
                    return .unix(path: ConfigFile.resolve(socketPath, relativeTo: configFile))
                }
                return server
            }
        }
        for index in listen.indices {
            if case .unix(let socketPath) = listen[index].address {
                listen[index].address = .unix(path: ConfigFile.resolve(socketPath, relativeTo: configFile))
            }
            guard let pairs = listen[index].tls?.certificates else { continue }
            listen[index].tls?.certificates = pairs.map { pair in
                CertificatePairConfig(
                    cert: ConfigFile.resolve(pair.cert, relativeTo: configFile),
                    key: ConfigFile.resolve(pair.key, relativeTo: configFile))
            }
        }
    }

    /// Checks what decoding cannot: the file system, duplicates, and values that only make sense together.
    func validate(into diagnostics: ConfigDiagnostics) {
        if listen.isEmpty {
            diagnostics.record("needs at least one address", keyPath: "listen")
        }
        var seenAddresses: Set<BindAddress> = []
        // Port 0 asks the kernel for a free port each time, so several such entries do not collide.
        for (index, entry) in listen.enumerated()
        where entry.address.port != 0 && !seenAddresses.insert(entry.address).inserted {
            diagnostics.record("address \(entry.address) is listed twice", keyPath: "listen[\(index)].address")
        }
        validateTLS(into: diagnostics)
        admin?.check(against: listen.map(\.address), into: diagnostics)
        var seenPrefixes: Set<String> = []
        var zoneSettings: [String: RateLimitConfig.ZoneSettings] = [:]
        for (index, route) in routes.enumerated() {
            if let limit = route.rateLimit {
                // A shared zone has one rate, key and budget; only burst, nodelay, status and dry_run are per route.
                let zone = RateLimitZones.zoneName(of: route)
                if let first = zoneSettings[zone], first != limit.zoneSettings {
                    diagnostics.record(
                        "zone '\(zone)' is shared with another route whose rate, key or memory differ",
                        keyPath: "routes[\(index)].rate_limit")
                }
                zoneSettings[zone] = zoneSettings[zone] ?? limit.zoneSettings
            }
            if !seenPrefixes.insert(route.prefix).inserted {
                diagnostics.record("prefix '\(route.prefix)' is listed twice", keyPath: "routes[\(index)].prefix")
            }
            if let upstream = route.upstream {
                if upstreams[upstream] == nil {
                    diagnostics.record(
                        "no upstream named '\(upstream)' in upstreams", keyPath: "routes[\(index)].upstream")
                }
            } else {
                Self.validateDirectory(route.dir, keyPath: "routes[\(index)].dir", into: diagnostics)
            }
        }
        if case .file(let logPath) = accessLog {
            Self.validateWritableFile(logPath, keyPath: "access_log", into: diagnostics)
        }
        for (status, path) in errorPages.sorted(by: { $0.key < $1.key }) {
            let keyPath = "error_pages.\(status)"
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
                diagnostics.record("file \(path) does not exist", keyPath: keyPath)
                continue
            }
            if size > ErrorPages.maxSize {
                diagnostics.record("\(path) is larger than \(ErrorPages.maxSize) bytes", keyPath: keyPath)
            } else if access(path, R_OK) != 0 {
                diagnostics.record("\(path) is not readable by this user", keyPath: keyPath)
            }
        }
    }

    /// Every certificate/key pair loads, matches and is valid now; a redirect to https has an https listener.
    private func validateTLS(into diagnostics: ConfigDiagnostics) {
        for (index, entry) in listen.enumerated() {
            if entry.redirectToHTTPS && !listen.contains(where: { $0.tls != nil }) {
                diagnostics.record(
                    "needs a listener with tls to redirect to", keyPath: "listen[\(index)].redirect_to_https")
            }
            guard let tls = entry.tls else { continue }
            if case .unix = entry.address {
                diagnostics.record("TLS is for TCP listeners", keyPath: "listen[\(index)].tls")
            }
            for (pairIndex, pair) in tls.certificates.enumerated() where !pair.cert.isEmpty && !pair.key.isEmpty {
                let keyPath = "listen[\(index)].tls.certificates[\(pairIndex)]"
                let inspection = CertificateInspection(pair)
                for error in inspection.errors { diagnostics.record(error, keyPath: keyPath) }
                for warning in inspection.warnings { diagnostics.record(warning, keyPath: keyPath, isWarning: true) }
            }
        }
    }

    private static func validateDirectory(_ dir: String, keyPath: String, into diagnostics: ConfigDiagnostics) {
        guard !dir.isEmpty else { return }  // already reported as missing
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
            diagnostics.record("directory \(dir) does not exist", keyPath: keyPath)
            return
        }
        guard isDirectory.boolValue else {
            diagnostics.record("\(dir) is not a directory", keyPath: keyPath)
            return
        }
        guard access(dir, R_OK | X_OK) == 0 else {
            diagnostics.record("directory \(dir) is not readable by this user", keyPath: keyPath)
            return
        }
    }

    private static func validateWritableFile(_ path: String, keyPath: String, into diagnostics: ConfigDiagnostics) {
        if FileManager.default.fileExists(atPath: path) {
            if access(path, W_OK) != 0 {
                diagnostics.record("file \(path) is not writable by this user", keyPath: keyPath)
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if access(parent, W_OK | X_OK) != 0 {
            diagnostics.record(
                "cannot create \(path): directory \(parent) is missing or not writable", keyPath: keyPath)
        }
    }
}
