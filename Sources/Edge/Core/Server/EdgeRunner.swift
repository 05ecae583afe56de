import Logging
import NIOCore
import Shared
import UnixSignals

/// Runs Edge in the foreground until a stop signal: the part of `edge --config FILE` after the config is loaded.
public enum EdgeRunner {
    /// Starts the server, reports readiness (log line and systemd `READY=1`), then handles signals:
    /// TERM stops gracefully, INT and QUIT stop fast, USR1 reopens the access log, USR2 upgrades to the binary on
    /// disk (`BinaryUpgrade`).
    public static func run(
        config: EdgeConfig, configPath: String, logger: Logger, environment: [String: String]
    ) async throws {
        let notifier = SystemdNotifier(environment: environment)
        // The path is read now: by the time of an upgrade, /proc/self/exe may name a file moved aside.
        _ = BinaryUpgrade.executable
        // Trap signals before binding so a TERM that arrives during start-up is not lost to the default handler.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sigquit, .sighup, .sigusr1, .sigusr2)
        // Started by an upgrade (USR2 to the old process): accept only once the old process has stopped.
        let successor = BinaryUpgrade.isSuccessor
        let server = try await EdgeServer.start(config: config, logger: logger, accepting: !successor)
        for name in server.listenerNames { logger.info("listening on \(name)") }
        logger.info(
            "ready",
            metadata: [
                "config": "\(configPath)",
                "threads": "\(config.threads.resolved(cpuCount: System.coreCountForLogging))",
            ])
        if successor {
            await BinaryUpgrade.reportReadyAndAwaitTurn()
            await server.startAccepting()
        }
        notifier.notify("READY=1\nSTATUS=serving\nMAINPID=\(getpid())")
        let watchdog = Task {
            await pingWatchdog(server: server, notifier: notifier, environment: environment, logger: logger)
        }
        let status = Task { await reportStatus(server: server, notifier: notifier) }
        defer {
            watchdog.cancel()
            status.cancel()
        }

        for await signal in signals {
            switch signal {
            case .sigterm:
                logger.info(
                    "TERM received: finishing in-flight requests", metadata: ["timeout": "\(config.timeouts.shutdown)"])
                notifier.notify("STOPPING=1")
                await server.stopGracefully()
                logger.info("stopped")
                return
            case .sigint, .sigquit:
                logger.info("\(signal) received: stopping now")
                notifier.notify("STOPPING=1")
                await server.stopNow()
                return
            case .sigusr1:
                server.reopenLogs()
            case .sighup:
                await reload(server: server, configPath: configPath, logger: logger, notifier: notifier)
            case .sigusr2:
                guard await upgrade(server: server, logger: logger) else { continue }
                // The new process is systemd's main one now (it sent MAINPID): no STOPPING=1 from this one.
                await server.stopGracefully()
                logger.info("stopped; the new binary serves")
                return
            default:
                break
            }
        }
    }
}

extension EdgeRunner {
    /// With `WATCHDOG_USEC` set, sends `WATCHDOG=1` every half interval, but only while every event loop answers:
    /// a wedged loop stops the pings and systemd restarts Edge.
    static func pingWatchdog(
        server: EdgeServer, notifier: SystemdNotifier, environment: [String: String], logger: Logger
    ) async {
        guard let interval = SystemdNotifier.watchdogInterval(environment: environment) else { return }
        var withheld = false
        while !Task.isCancelled {
            try? await Task.sleep(for: interval / 2)
            if await server.eventLoopsAnswer(within: interval / 2) {
                notifier.notify("WATCHDOG=1")
                withheld = false
            } else if !withheld {
                logger.error("an event loop did not answer within half the watchdog interval; withholding the ping")
                withheld = true
            }
        }
    }

    /// Under systemd, sends `STATUS=` with the server's status line every few seconds when it has changed.
    static func reportStatus(server: EdgeServer, notifier: SystemdNotifier) async {
        guard notifier.isEnabled else { return }
        var sent = ""
        while !Task.isCancelled {
            let status = await server.statusLine()
            if status != sent {
                notifier.notify("STATUS=\(status)")
                sent = status
            }
            try? await Task.sleep(for: statusInterval)
        }
    }

    /// How often the status line is refreshed.
    static let statusInterval = Duration.seconds(5)

    /// USR2: starts the binary on disk on the listening sockets; `true` once it serves and this process must go.
    /// Other signals wait meanwhile (at most `BinaryUpgrade.readinessTimeout`).
    static func upgrade(server: EdgeServer, logger: Logger) async -> Bool {
        logger.info("USR2 received: starting the new binary", metadata: ["binary": "\(BinaryUpgrade.executable)"])
        let outcome = await BinaryUpgrade.upgrade(listeners: server.listeningDescriptors) {
            await server.handOverSockets()
        }
        switch outcome {
        case .serving(let pid):
            logger.info(
                "upgrade: the new binary serves; this process stopped accepting and finishes its requests",
                metadata: ["new_pid": "\(pid)"])
            return true
        case .failed(let reason):
            logger.error("upgrade failed, still serving with this binary: \(reason)")
            return false
        }
    }

    /// HUP: re-read the config file; on any problem keep the running configuration and say why.
    static func reload(server: EdgeServer, configPath: String, logger: Logger, notifier: SystemdNotifier) async {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000)")
        defer { notifier.notify("READY=1") }
        do {
            let (config, warnings) = try EdgeConfig.load(from: configPath)
            for warning in warnings { logger.warning("\(warning)") }
            try await server.reload(config)
            server.countReload(applied: true)
            logger.info("HUP: configuration reloaded; new connections use it", metadata: ["config": "\(configPath)"])
        } catch let problems as ConfigProblems {
            server.countReload(applied: false)
            let reasons = problems.problems.map(\.description).joined(separator: "; ")
            logger.error("HUP: configuration refused, keeping the running one: \(reasons)")
        } catch {
            server.countReload(applied: false)
            logger.error("HUP: configuration refused, keeping the running one: \(error)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension SocketAddress {
    /// `127.0.0.1:8080`, `[::1]:8080` or `unix:/path`.
    var displayForm: String {
        switch self {
        case .v4: "\(ipAddress ?? "?"):\(port ?? 0)"
        case .v6: "[\(ipAddress ?? "?")]:\(port ?? 0)"
        case .unixDomainSocket: "unix:\(pathname ?? "?")"
        }
    }
}

extension System {
    static var coreCountForLogging: Int { coreCount }
}
