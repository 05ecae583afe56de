import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Shared

#if canImport(Glibc)
import Glibc
#endif

/// A worker process: serves the inherited listening socket with the app until told to stop, ticking its
/// heartbeat from every event loop so the master notices a blocked one.
enum WorkerRuntime {
    static func run(
        app: any HTTPApplication, config: AppServerConfig, configPath: String?, logger: Logger
    ) async -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        let generation = Int(environment["APPSERVER_GENERATION"] ?? "1") ?? 1
        let masterPID = pid_t(environment["APPSERVER_MASTER_PID"] ?? "") ?? getppid()
        let messages = MasterMessages(descriptor: ProcessSpawner.messagesFD)
        let board = try? StatusBoard(descriptor: ProcessSpawner.statusFD)
        let signals = SignalWatcher([SIGTERM, SIGINT, SIGQUIT, SIGUSR1])

        // Made before the app boots, so that its clients (a database pool) can run on the loops that serve it.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.threadsPerWorker)
        let settings = AppSettings(
            config: config, configPath: configPath, generation: generation, eventLoopGroup: group)
        do {
            try await app.boot(settings: settings)
        } catch {
            logger.critical("app failed to load: \(error)")
            return WorkerExit.appLoadFailureCode
        }

        let accessLog: AccessLogSink
        do {
            accessLog = try AccessLogSink(destination: config.accessLog, logger: logger)
        } catch {
            logger.critical("\(error)")
            return WorkerExit.bootFailureCode
        }
        let accessLogs: PerLoop<AccessLogBuffer>
        do {
            let format = config.accessLogFormat
            accessLogs = try PerLoop(group: group) { AccessLogBuffer(sink: accessLog, format: format) }
        } catch {
            logger.critical("cannot start event loops: \(error)")
            return WorkerExit.bootFailureCode
        }
        accessLogs.every(.seconds(1)) { $0.flush() }
        // Loops take their board slots in the order their heartbeats do (the group's order).
        let nextSlot = NIOLockedValueBox(0)
        let requestStats =
            config.admin == nil
            ? nil
            : board.flatMap { board in
                try? PerLoop(group: group) {
                    board.stats(
                        slot: nextSlot.withLockedValue { slot in
                            defer { slot += 1 }
                            return slot
                        })
                }
            }
        if let refusal = config.workerScheduling.applyToAllThreads() {
            logger.warning(
                "worker_scheduling: cannot use '\(config.workerScheduling)' (\(refusal)); the worker keeps its policy")
        }
        let registry = ConnectionRegistry(maxConnections: 100_000, logger: logger)
        let jitter = config.maxRequestsJitter > 0 ? Int.random(in: 0...config.maxRequestsJitter) : 0
        let context = WorkerContext(
            app: app, forwarded: ForwardedPolicy(config.forwardedAllow),
            keepalive: .milliseconds(config.keepalive.milliseconds),
            logger: logger, board: board,
            requests: RequestCounter(limit: config.maxRequests > 0 ? config.maxRequests + jitter : nil) {
                messages.send("retiring")
            },
            limits: .init(maxURILength: 8190, maxHeaderSize: 64 * 1024, maxHeaderCount: 100), accessLogs: accessLogs,
            requestStats: requestStats)
        let acceptor: Acceptor
        do {
            acceptor = try Acceptor(listenFD: ProcessSpawner.listenerFD, logger: logger) { fd in
                registry.reserve()
                ClientBootstrap(group: group)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(AppConnectionHandler(worker: context))
                        }
                    }
                    .withConnectedSocket(fd).whenComplete { result in
                        switch result {
                        case .success(let channel):
                            _ = registry.admit(channel, reserved: true)
                        case .failure(let error):
                            registry.abandon()
                            logger.warning("cannot set up an accepted connection: \(error)")
                        }
                    }
            }
        } catch {
            logger.critical("cannot start accepting on fd \(ProcessSpawner.listenerFD): \(error)")
            try? await group.shutdownGracefully()
            return WorkerExit.bootFailureCode
        }
        guard fcntl(ProcessSpawner.listenerFD, F_GETFD) >= 0 else {
            logger.critical(
                "no listening socket inherited on fd \(ProcessSpawner.listenerFD); workers are started by the master")
            try? await group.shutdownGracefully()
            return WorkerExit.bootFailureCode
        }
        acceptor.start()

        let stop = StopRequest()
        let tick = TimeAmount.milliseconds(min(1000, max(100, config.timeout.milliseconds / 4)))
        for (slot, loop) in group.makeIterator().enumerated() {
            loop.scheduleRepeatedTask(initialDelay: .zero, delay: tick) { _ in
                board?.beat(slot: slot)
                // Orphaned (the master died): stop by ourselves rather than serve unsupervised forever.
                if getppid() != masterPID { stop.request(.graceful(reason: "master \(masterPID) is gone")) }
            }
        }
        messages.send("ready")
        logger.info("worker ready", metadata: ["threads": "\(config.threadsPerWorker)"])

        let signalTask = Task {
            for await number in signals.signals {
                switch number {
                case SIGTERM: stop.request(.graceful(reason: "TERM"))
                case SIGUSR1:
                    do {
                        await accessLogs.forEach { $0.flush() }
                        try accessLog.reopen()
                        logger.info("USR1: reopened the access log")
                    } catch {
                        logger.error("USR1: cannot reopen the access log, still writing to the old file: \(error)")
                    }
                default: stop.request(.fast)
                }
            }
        }
        defer { signalTask.cancel() }

        switch await stop.wait() {
        case .graceful(let reason):
            logger.info("stopping gracefully", metadata: ["reason": "\(reason)"])
            acceptor.stop()
            let drained = await withTaskGroup(of: Bool.self) { tasks in
                tasks.addTask {
                    await registry.drain()
                    return true
                }
                tasks.addTask {
                    try? await Task.sleep(for: config.gracefulTimeout.duration)
                    return false
                }
                let first = await tasks.next() ?? false
                tasks.cancelAll()
                return first
            }
            if !drained {
                logger.warning(
                    "graceful_timeout reached; closing remaining connections", metadata: ["open": "\(registry.count)"])
                registry.closeAll()
            }
        case .fast:
            acceptor.stop()
            registry.closeAll()
        }
        await app.shutdown()
        await accessLogs.forEach { $0.flush() }
        try? await group.shutdownGracefully()
        logger.info("worker exiting")
        return 0
    }
}

/// Lines to the master over the inherited pipe (`ready`, `retiring`).
struct MasterMessages: Sendable {
    let descriptor: CInt
    private static let lock = NIOLock()

    init(descriptor: CInt) {
        self.descriptor = descriptor
        signal(SIGPIPE, SIG_IGN)  // a dead master must not kill us on write
    }

    func send(_ message: String) {
        Self.lock.withLock {
            _ = (message + "\n").withCString { write(descriptor, $0, strlen($0)) }
        }
    }
}

/// The first stop request wins; `wait` returns it.
final class StopRequest: Sendable {
    enum Kind: Sendable {
        case graceful(reason: String)
        case fast
    }

    private let state = NIOLockedValueBox<(kind: Kind?, waiter: CheckedContinuation<Kind, Never>?)>((nil, nil))

    func request(_ kind: Kind) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Kind, Never>? in
            guard state.kind == nil else { return nil }
            state.kind = kind
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: kind)
    }

    func wait() async -> Kind {
        await withCheckedContinuation { continuation in
            let ready = state.withLockedValue { state -> Kind? in
                if let kind = state.kind { return kind }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
