import Foundation
import Glibc
import Logging
import ServiceLifecycle
import VigilCore

/// `vigil notify`: checks the notifier's configuration and opens the store, then runs
/// `NotifierWorker` beside `WatchdogService` (and the store's own services) in one `ServiceGroup`
/// until SIGTERM or SIGINT (a graceful shutdown: deliveries in flight finish first), or with `once`
/// until nothing is due.
public enum NotifierDaemon {
    /// The `notify` command of `vigil` and of the test binary: logging, the configuration, the
    /// notifier until it stops; the exit status. `clock` gives the clock it runs on; `openStore`
    /// opens the configured store (the SQLite one by default; `vigil` also opens PostgreSQL).
    public static func main(
        configPath: String?, once: Bool, log: LogSetup.Target, clock: @Sendable (Logger) -> any WallClock,
        openStore: NotifierStore.Opening = NotifierStore.sqlite
    ) async -> ExitStatus {
        // A command of an exec channel that exits without reading its stdin must not kill the notifier.
        signal(SIGPIPE, SIG_IGN)
        LogSetup.bootstrap(log, level: .info, identifier: "vigil-notifier")
        let logger = Logger(label: "vigil-notifier")
        if let missing = VigilConfig.missing(explicitPath: configPath) {
            printError(missing)
            return .config
        }
        do {
            let config = try VigilConfig.resolve(explicitPath: configPath)
            try await run(config: config, once: once, clock: clock(logger), logger: logger, openStore: openStore)
            return .ok
        } catch let error as any ExitStatusProviding {
            printError("\(error)")
            return error.exitStatus
        } catch {
            printError("\(error)")
            return .software
        }
    }

    /// Opens the store and runs the notifier's services.
    public static func run(
        config: VigilConfig, once: Bool, clock: any WallClock, logger: Logger,
        openStore: NotifierStore.Opening = NotifierStore.sqlite
    ) async throws {
        let notifierConfig = try NotifierConfig.load(for: config)
        try DeploymentCheck.notifier(notifierConfig, origin: config.origin)
        let systemd = SystemdNotifier()
        systemd.openingStore(within: .minutes(30))
        let wake = WakeSignal()
        let store = try await openStore(config, wake, logger)
        let notifier = Notifier(config: notifierConfig, queue: store.queue, clock: clock, logger: logger)
        let pacer = WatchdogPacer(interval: systemd.watchdogPingInterval())
        let channels = notifierConfig.channels.keys.sorted()
        let shutdown = await ShutdownSignals()
        systemd.ready(status: "delivering to \(channels.joined(separator: ", "))")
        logger.log(
            .notice, .started, "vigil notifier started",
            ["channels": "\(channels.joined(separator: ","))", "store": "\(store.description)"])
        let tally = notifier.tally
        let watchdog = WatchdogService(pacer: pacer, systemd: systemd) {
            let counts = tally.counts
            return
                "\(counts.delivered) delivered, \(counts.retried) retries, \(counts.dead) dead, \(counts.overdue) overdue, \(counts.inFlight) in flight"
        }
        let worker = NotifierWorker(notifier: notifier, once: once, wake: wake, pacer: pacer)
        defer {
            systemd.stopping()
            let counts = tally.counts
            logger.log(
                .notice, .stopping, "vigil notifier stopping",
                [
                    "delivered": "\(counts.delivered)", "retried": "\(counts.retried)", "dead": "\(counts.dead)",
                    "overdue": "\(counts.overdue)",
                ])
        }
        try await shutdown.run(
            ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: watchdog)] + store.services.map { .init(service: $0) } + [
                        .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)
                    ],
                    logger: logger.quieter)))
    }
}

/// The store a notifier works on: its queue, the services that keep it (a connection pool, a
/// listener that wakes the notifier) and how it is named in the log.
public struct NotifierStore: Sendable {
    /// Opens the configured store; `wake` is poked when a task may have become due.
    public typealias Opening = @Sendable (VigilConfig, WakeSignal, Logger) async throws -> NotifierStore

    public var queue: any DeliveryQueue
    public var services: [any Service]
    public var description: String

    public init(queue: any DeliveryQueue, services: [any Service], description: String) {
        self.queue = queue
        self.services = services
        self.description = description
    }

    /// The SQLite store in the state directory (the daemon's, whichever starts first), its wake file
    /// watched; a configuration whose store is PostgreSQL is refused (only `vigil` opens one).
    public static let sqlite: Opening = { config, wake, logger in
        let path = try config.sqliteStore(for: "this notifier")
        try DirectorySafety.create(config.state, mode: 0o700)
        try DirectorySafety.check(config.state)
        let store = try EventStore(path: path, stages: [], cacheKiB: 8_192)
        do {
            try NotifierWake(state: config.state).forward(to: wake)
        } catch {
            logger.log(
                .warning, .started, "cannot watch the notifier's wake file; new tasks are found by polling",
                ["error": "\(error)"])
        }
        return NotifierStore(queue: TaskQueue(store: store), services: [], description: path)
    }
}
