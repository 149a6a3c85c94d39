import Glibc
import Logging
import VigilCore

/// `vigil serve`: one thread, one poll loop over inotify (new files), a signalfd (TERM/INT/HUP) and
/// timers (watchdog, periodic rescan, store retry). All state that matters is in SQLite; the loop
/// only decides when to drain the spool.
public final class Daemon {
    /// Re-reads the configuration on SIGHUP.
    public typealias ConfigLoader = () throws(SourceErrors) -> VigilConfig

    /// How often the spool is rescanned even without inotify events (the safety net).
    public var rescanInterval = TimeSpan.seconds(10)
    /// How often `absent:` rules are checked (also after every drain).
    public var absenceInterval = TimeSpan.seconds(30)
    /// Longest wait between store retries while the disk is full or read-only.
    public var maxRetryDelay = TimeSpan.seconds(30)

    var config: VigilConfig
    let loadConfig: ConfigLoader
    let signals: SignalFD
    let clock: any WallClock
    let logger: Logger
    let notifier = SystemdNotifier()
    var ingestor: Ingestor?
    /// The rule evaluation stage, whose pack a reload replaces.
    var evaluation: DecisionStage?

    var total = IngestTally()
    var stopRequested = false
    var reloadRequested = false
    var storeFailure: String?
    var retryDelay = TimeSpan.seconds(1)
    var nextWatchdog: Int64 = 0
    let watchdogInterval: TimeSpan?

    /// `signals` must exist before any thread starts (see `SignalFD`).
    public init(
        config: VigilConfig, loadConfig: @escaping ConfigLoader, signals: SignalFD, clock: any WallClock, logger: Logger
    ) {
        self.config = config
        self.loadConfig = loadConfig
        self.signals = signals
        self.clock = clock
        self.logger = logger
        self.watchdogInterval = notifier.watchdogPingInterval()
    }

    /// Opens everything, drains the backlog, reports READY=1, then serves until SIGTERM/SIGINT.
    public func run() throws(DaemonError) {
        let spool: OpenSpool
        let pack: RulePack
        let store: EventStore
        let watch: InotifyWatch
        do {
            try DeploymentCheck.daemon(config)
            spool = try SpoolDirectory(root: config.spool).open()
            try DirectorySafety.create(config.state, mode: 0o700)
            try DirectorySafety.check(config.state)
            pack = try RulePack.load(directory: config.rules)
            notifier.openingStore(within: .minutes(30))
            store = try EventStore(path: config.databasePath, stages: [ClientIndex(), evaluation(pack)])
            watch = try InotifyWatch(directory: spool.new)
        } catch let error as ExitStatusProviding {
            throw DaemonError(underlying: error)
        } catch {
            throw DaemonError(underlying: StoreError(path: config.state, problem: "\(error)"))
        }
        let ingestor = Ingestor(spool: spool, store: store, vocabulary: pack.vocabulary, clock: clock, logger: logger)
        if let watchdogInterval {
            ingestor.slice = TimeSpan(microseconds: min(ingestor.slice.microseconds, watchdogInterval.microseconds / 4))
        }
        self.ingestor = ingestor
        logger.log(
            .notice, .started, "vigil started",
            [
                "config": "\(config.origin)", "spool": "\(config.spool)", "state": "\(config.state)",
                "rules": "\(config.rules)", "ruleset": "\(pack.hash)", "rule_count": "\(pack.ruleSet.rules.count)",
            ])

        var nextRetry: Int64?
        awaitAbsencesIfThePackChanged(store)
        if !drain(ingestor) { nextRetry = SystemClock.monotonicMicroseconds() + retryDelay.microseconds }
        decideAbsences(store)
        notifier.ready(status: statusLine(ingestor))
        if stallsForTest { stallForever() }
        var nextRescan = SystemClock.monotonicMicroseconds() + rescanInterval.microseconds
        var nextAbsences = SystemClock.monotonicMicroseconds() + absenceInterval.microseconds

        while !stopRequested {
            let now = SystemClock.monotonicMicroseconds()
            var deadline = min(nextRescan, nextAbsences, nextRetry ?? Int64.max)
            if watchdogInterval != nil { deadline = min(deadline, nextWatchdog) }
            let timeout = Int32(clamping: max(0, min(1_000, (deadline - now + 999) / 1000)))
            var fds = [
                pollfd(fd: watch.fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, timeout)
            handleSignals()
            pingWatchdogIfDue()
            if stopRequested { break }
            if reloadRequested { reload() }

            var wantDrain = false
            if fds[0].revents != 0 {
                watch.drain()
                wantDrain = nextRetry == nil
            }
            let after = SystemClock.monotonicMicroseconds()
            if after >= nextRescan {
                ingestor.retryStuck()
                nextRescan = after + rescanInterval.microseconds
                wantDrain = wantDrain || nextRetry == nil
            }
            if let retry = nextRetry, after >= retry { wantDrain = true }
            if after >= nextAbsences, nextRetry == nil {
                decideAbsences(store)
                nextAbsences = SystemClock.monotonicMicroseconds() + absenceInterval.microseconds
            }
            guard wantDrain else { continue }
            if drain(ingestor) {
                nextRetry = nil
                decideAbsences(store)
            } else {
                nextRetry = SystemClock.monotonicMicroseconds() + retryDelay.microseconds
                retryDelay = min(maxRetryDelay, TimeSpan(microseconds: retryDelay.microseconds * 2))
            }
            notifier.status(statusLine(ingestor))
        }
        notifier.stopping()
        logger.log(
            .notice, .stopping, "vigil stopping",
            ["stored": "\(total.stored)", "rejected": "\(total.rejectedFiles + total.rejectedLines)"])
    }

    func evaluation(_ pack: RulePack) -> DecisionStage {
        let stage = DecisionStage(pack: pack, logger: logger)
        evaluation = stage
        return stage
    }

    /// The test-only fault switch `VIGIL_TEST_STALL=1`: the main loop stops right after READY=1, so
    /// a test can watch systemd's watchdog kill and restart the daemon. Logged loudly when set.
    let stallsForTest = getenv("VIGIL_TEST_STALL").map { String(cString: $0) == "1" } ?? false

    func stallForever() -> Never {
        logger.log(
            .critical, .stopping,
            "VIGIL_TEST_STALL=1: the main loop stops now (test fault switch; never set it in production)")
        while true { pause() }
    }

    /// One drain of the spool; false when the store (or spool) failed and a retry is needed.
    @discardableResult
    func drain(_ ingestor: Ingestor) -> Bool {
        do {
            total += try ingestor.drain(shouldStop: { [self] in
                handleSignals()
                pingWatchdogIfDue()
                return stopRequested
            })
            if let failure = storeFailure {
                logger.log(.notice, .storeRecovered, "ingestion resumed", ["previous_error": "\(failure)"])
                storeFailure = nil
                retryDelay = .seconds(1)
            }
            return true
        } catch {
            if storeFailure == nil {
                // Logged once per outage, not once per retry.
                logger.log(
                    .critical, .storeUnavailable, "cannot commit check-ins; they stay in the spool until this clears",
                    ["error": "\(error)", "transient": "\(error.isTransient)"])
            }
            storeFailure = "\(error)"
            return false
        }
    }

    /// Marks every client for an absence check when the pack in force changed and has `absent:` rules.
    func awaitAbsencesIfThePackChanged(_ store: EventStore) {
        do {
            try store.awaitAbsencesIfThePackChanged()
        } catch {
            logger.log(
                .error, .storeUnavailable, "cannot mark clients for the new absence rules", ["error": "\(error)"])
        }
    }

    /// Decides the silences of `absent:` rules that are due, 1,000 clients per transaction (the
    /// evaluation stage logs each firing). A store failure is logged and left to the next tick.
    func decideAbsences(_ store: EventStore) {
        do {
            while true {
                let round = try store.tick(at: clock.now())
                pingWatchdogIfDue()
                if round.clients < AbsenceRound.clientsPerRound { break }
            }
        } catch {
            // Part of the same outage as a failed drain: logged once, retried at the next tick.
            if storeFailure == nil {
                logger.log(
                    .critical, .storeUnavailable, "cannot record absence rule decisions; retrying",
                    ["error": "\(error)", "transient": "\(error.isTransient)"])
                storeFailure = "\(error)"
            }
        }
    }

    func handleSignals() {
        while let signal = signals.next() {
            switch signal {
            case SIGTERM, SIGINT: stopRequested = true
            case SIGHUP: reloadRequested = true
            default: break
            }
        }
    }

    func pingWatchdogIfDue() {
        guard let interval = watchdogInterval else { return }
        let now = SystemClock.monotonicMicroseconds()
        guard now >= nextWatchdog else { return }
        notifier.watchdog()
        nextWatchdog = now + interval.microseconds
    }

    /// SIGHUP: re-read the configuration and check the rule pack (vocabulary, policy, rules) in
    /// full before anything is swapped; on any error keep the old ones and log where the error is.
    func reload() {
        reloadRequested = false
        notifier.reloading()
        do {
            let fresh = try loadConfig()
            try DeploymentCheck.daemon(fresh)
            let pack = try RulePack.load(directory: fresh.rules)
            if fresh.spool != config.spool || fresh.state != config.state {
                logger.log(
                    .warning, .reloadFailed, "spool and state cannot change on reload; restart to move them",
                    ["spool": "\(fresh.spool)", "state": "\(fresh.state)"])
            }
            ingestor?.decoder = SpoolFileDecoder(decoder: CheckInDecoder(vocabulary: pack.vocabulary))
            evaluation?.replace(pack)
            if let store = ingestor?.store {
                awaitAbsencesIfThePackChanged(store)
                decideAbsences(store)
            }
            config.rules = fresh.rules
            logger.log(
                .notice, .reloaded, "configuration and rules reloaded",
                [
                    "config": "\(fresh.origin)", "rules": "\(fresh.rules)", "ruleset": "\(pack.hash)",
                    "rule_count": "\(pack.ruleSet.rules.count)",
                ])
        } catch let error as RulePackError {
            for message in error.messages.prefix(20) {
                logger.log(
                    .error, .reloadFailed, "reload refused; the previous rules stay in force",
                    ["error": "\(message)", "location": "\(message.prefix { $0 != " " && $0 != "\n" })"])
            }
        } catch {
            logger.log(
                .error, .reloadFailed, "reload refused; the previous configuration stays in force",
                ["error": "\(error)"])
        }
        if let ingestor { notifier.ready(status: statusLine(ingestor)) }
    }

    func statusLine(_ ingestor: Ingestor) -> String {
        var line =
            "ingested \(total.stored), duplicates \(total.duplicates), rejected \(total.rejectedFiles + total.rejectedLines), backlog \(ingestor.spool.backlog())"
        if let failure = storeFailure { line += "; STORE UNAVAILABLE: \(failure)" }
        return line
    }
}

/// Why the daemon could not start.
public struct DaemonError: ExitStatusProviding, CustomStringConvertible {
    public let underlying: any ExitStatusProviding
    public var exitStatus: ExitStatus { underlying.exitStatus }
    public var description: String { "\(underlying)" }
}
