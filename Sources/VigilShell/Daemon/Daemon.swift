import Logging
import ServiceLifecycle
import UnixSignals
import VigilCore

/// `vigil serve`: checks the deployment and opens the spool, the rules and the store, then runs
/// its services in one `ServiceGroup` until SIGTERM or SIGINT (a graceful shutdown: a drain
/// finishes the slice in hand first); SIGHUP reloads. One file per service: `IngestService`,
/// `AbsenceTicker`, `ReloadService`, `WatchdogService`; `DaemonCore` holds what they share.
public enum Daemon {
    /// Re-reads the configuration on SIGHUP.
    public typealias ConfigLoader = @Sendable () throws(SourceErrors) -> VigilConfig

    /// What a test binary (`vigil-testd`) injects; `vigil serve` runs with the defaults.
    public struct Hooks: Sendable {
        /// The clock check-ins are judged by and absences decided on.
        public var clock: any WallClock
        /// Runs in the ingest service right after READY=1 (a fault, such as a stalled loop).
        public var afterReady: @Sendable () async -> Void

        public init(clock: any WallClock = SystemClock(), afterReady: @escaping @Sendable () async -> Void = {}) {
            self.clock = clock
            self.afterReady = afterReady
        }
    }

    /// How often the spool is rescanned even without inotify events (the safety net).
    static let rescanInterval = TimeSpan.seconds(10)
    /// How often `absent:` rules are checked (also after every drain).
    static let absenceInterval = TimeSpan.seconds(30)

    /// The `serve` command of `vigil` and of the test binary: logging, the configuration, the
    /// daemon until it stops; the exit status (78 configuration, 77 permissions...).
    public static func main(
        configPath: String?, log: LogSetup.Target, level: Logger.Level,
        hooks: @Sendable (Logger) -> Hooks = { _ in Hooks() }, openStore: DaemonStore.Opening = DaemonStore.sqlite
    ) async -> ExitStatus {
        LogSetup.bootstrap(log, level: level)
        let logger = Logger(label: "vigil")
        if let missing = VigilConfig.missing(explicitPath: configPath) {
            printError(missing)
            return .config
        }
        let config: VigilConfig
        do {
            config = try VigilConfig.resolve(explicitPath: configPath)
        } catch {
            printError("\(error)")
            return error.exitStatus
        }
        do throws(DaemonError) {
            try await run(
                config: config,
                loadConfig: { () throws(SourceErrors) in try VigilConfig.resolve(explicitPath: configPath) },
                openStore: openStore, hooks: hooks(logger), logger: logger)
            return .ok
        } catch {
            logger.log(.critical, .stopping, "vigil cannot start", ["error": "\(error)"])
            if log != .stderr { printError("\(error)") }
            return error.exitStatus
        }
    }

    /// Opens everything, then runs the services: the backlog is drained before READY=1.
    public static func run(
        config: VigilConfig, loadConfig: @escaping ConfigLoader, openStore: DaemonStore.Opening = DaemonStore.sqlite,
        hooks: Hooks, logger: Logger
    ) async throws(DaemonError) {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let pacer = WatchdogPacer(interval: SystemdNotifier().watchdogPingInterval())
        let spool: OpenSpool
        let pack: RulePack
        let evaluation: DecisionStage
        let store: DaemonStore
        let wake: NotifierWake?
        let watch: InotifyWatch
        do {
            try DeploymentCheck.daemon(config)
            spool = try SpoolDirectory(root: config.spool).open()
            try DirectorySafety.create(config.state, mode: 0o700)
            try DirectorySafety.check(config.state)
            pack = try RulePack.load(directory: config.rules)
            wake = NotifierWake.open(state: config.state, logger: logger)
            SystemdNotifier().openingStore(within: .minutes(30))
            evaluation = DecisionStage(pack: pack, logger: logger, taskDue: { wake?.poke() })
            store = try await openStore(config, [evaluation], logger)
            watch = try InotifyWatch(directory: spool.new)
        } catch let error as ExitStatusProviding {
            throw DaemonError(underlying: error)
        } catch {
            throw DaemonError(underlying: StoreError(path: config.state, problem: "\(error)"))
        }
        let ingestor = Ingestor(
            spool: spool, store: store.store, vocabulary: pack.vocabulary, clock: hooks.clock, logger: logger)
        ingestor.slice = pacer.slice(atMost: ingestor.slice)
        let shutdown = await ShutdownSignals()
        logger.log(
            .notice, .started, "vigil started",
            [
                "config": "\(config.origin)", "spool": "\(config.spool)", "state": "\(config.state)",
                "store": "\(store.description)",
                "rules": "\(config.rules)", "ruleset": "\(pack.hash)", "rule_count": "\(pack.ruleSet.rules.count)",
            ])
        let core = DaemonCore(
            config: config, loadConfig: loadConfig, ingestor: ingestor, evaluation: evaluation, clock: hooks.clock,
            logger: logger, pacer: pacer, committedDueTask: { wake?.poke() })
        // The store's services first: a group shuts its services down in reverse order, so they stop
        // after the ingest service's last commit.
        let services: [any Service] =
            store.services + [
                WatchdogService(pacer: pacer, systemd: SystemdNotifier()),
                AbsenceTicker(core: core, interval: absenceInterval),
                ReloadService(core: core, hangups: hangups),
                IngestService(
                    core: core, watch: watch, pacer: pacer, rescanInterval: rescanInterval, afterReady: hooks.afterReady
                ),
            ]
        do {
            try await shutdown.run(
                ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger.quieter)))
        } catch {
            await core.stopped()
            throw DaemonError(underlying: StoreError(path: config.state, problem: "\(error)"))
        }
        await core.stopped()
    }
}

/// The daemon's store, opened with its commit stages, and the services it needs running.
public struct DaemonStore: Sendable {
    /// Opens the configured store; `vigil serve` passes VigilPostgres' `DaemonStore.configured`,
    /// which also opens PostgreSQL.
    public typealias Opening = @Sendable (VigilConfig, [any CommitStage], Logger) async throws -> DaemonStore

    public var store: any CheckInStore
    public var services: [any Service]
    public var description: String

    public init(store: any CheckInStore, services: [any Service], description: String) {
        self.store = store
        self.services = services
        self.description = description
    }

    /// The SQLite store in the state directory; a configuration whose store is PostgreSQL is
    /// refused (only `vigil serve` opens one).
    public static let sqlite: Opening = { config, stages, _ in
        let path = try config.sqliteStore(for: "this daemon")
        return DaemonStore(
            store: try EventStore(path: path, stages: stages, checkpointsAside: true), services: [], description: path)
    }
}

/// Why the daemon could not start.
public struct DaemonError: ExitStatusProviding, CustomStringConvertible {
    public let underlying: any ExitStatusProviding
    public var exitStatus: ExitStatus { underlying.exitStatus }
    public var description: String { "\(underlying)" }
}

extension Logger {
    /// For the service group: its start and stop chatter stays out of the journal.
    public var quieter: Logger {
        var logger = self
        logger.logLevel = max(logger.logLevel, .notice)
        return logger
    }
}
