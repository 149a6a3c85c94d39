import Logging
import VigilCore

/// The daemon's store-side state and work, one piece at a time: a drain, an absence round and a
/// reload never overlap (the commit stages and the rule evaluation's cache are not re-entrant).
/// Each call runs synchronously on the actor; a drain commits in slices (`Ingestor.slice`) and
/// stops between them on a graceful shutdown, so SIGTERM waits at most one slice.
actor DaemonCore {
    var config: VigilConfig
    let loadConfig: Daemon.ConfigLoader
    let ingestor: Ingestor
    let evaluation: DecisionStage
    let clock: any WallClock
    let logger: Logger
    let systemd: SystemdNotifier
    let pacer: WatchdogPacer
    /// Wakes the notifier (`NotifierWake.poke`) after a commit that may have enqueued a task due
    /// now: a drain that stored or refused something, a silence that fired.
    let committedDueTask: @Sendable () -> Void
    var total = IngestTally()
    /// A store that cannot be written (a failed drain or absence round), logged once per outage.
    var storeOutage = OutageLatch<String>()
    /// READY=1 was sent (after the backlog); a SIGHUP before it waits for it.
    var isReady = false
    var reloadPending = false
    /// Marking the clients for a new pack's absence rules failed: tried again before each round.
    var absencesToMark = false

    init(
        config: VigilConfig, loadConfig: @escaping Daemon.ConfigLoader, ingestor: Ingestor, evaluation: DecisionStage,
        clock: any WallClock, logger: Logger, pacer: WatchdogPacer, committedDueTask: @escaping @Sendable () -> Void
    ) {
        self.config = config
        self.loadConfig = loadConfig
        self.ingestor = ingestor
        self.evaluation = evaluation
        self.clock = clock
        self.logger = logger
        self.systemd = SystemdNotifier()
        self.pacer = pacer
        self.committedDueTask = committedDueTask
    }

    /// One drain of the spool; false when the store (or spool) failed and a retry is needed.
    func drain() -> Bool {
        let pacer = pacer
        do {
            let tally = try ingestor.drain(shouldStop: {
                pacer.beat()
                return Task.isShuttingDownGracefully
            })
            total += tally
            // The decision stage wakes the notifier for the tasks it plans; a refusal may have raised
            // a refused crisis's supervisors' task, due now too.
            if tally.rejectedFiles + tally.rejectedLines > 0 { committedDueTask() }
            if let failure = storeOutage.recover() {
                logger.log(.notice, .storeRecovered, "ingestion resumed", ["previous_error": "\(failure)"])
            }
            return true
        } catch {
            if storeOutage.fail("\(error)") {
                logger.log(
                    .critical, .storeUnavailable, "cannot commit check-ins; they stay in the spool until this clears",
                    ["error": "\(error)", "transient": "\(error.isTransient)"])
            }
            return false
        }
    }

    /// Forgets stuck files so the next drain tries them again (the periodic rescan).
    func retryStuck() { ingestor.retryStuck() }

    /// READY=1 once the backlog is drained; then a SIGHUP that came meanwhile is handled.
    func ready() {
        systemd.ready(status: statusLine())
        isReady = true
        if reloadPending {
            reloadPending = false
            reload()
        }
    }

    func reportStatus() { systemd.status(statusLine()) }

    /// STOPPING=1 and the summary, once every service has stopped.
    func stopped() {
        systemd.stopping()
        logger.log(
            .notice, .stopping, "vigil stopping",
            ["stored": "\(total.stored)", "rejected": "\(total.rejectedFiles + total.rejectedLines)"])
    }

    func statusLine() -> String {
        var line =
            "ingested \(total.stored), duplicates \(total.duplicates), rejected \(total.rejectedFiles + total.rejectedLines), backlog \(ingestor.spool.backlog())"
        if let failure = storeOutage.problem { line += "; STORE UNAVAILABLE: \(failure)" }
        return line
    }
}
