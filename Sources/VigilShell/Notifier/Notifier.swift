import AsyncHTTPClient
import Foundation
import Logging
import VigilCore

/// `vigil notify`: drains the task queue to the team's channels.
///
/// Each poll claims the tasks due (with a lease), delivers each on its own task, concurrently, and
/// records the outcome under the lease: delivered; retried with backoff and jitter until the
/// channel's max age; or dead (LOG_CRIT, and an escalation then goes to the fallback channel).
/// Every second it also raises `overdue` escalations, announces the end of resolved tasks and
/// renews active Alertmanager alerts. A notifier killed mid-delivery loses nothing: the lease runs
/// out and the task is delivered again under the same id.
///
/// A slow receiver holds its own slots, never all of them: of the `concurrency` deliveries at once,
/// at most `perReceiver` go to one receiver (an HTTP channel's scheme, host and port, so channels
/// on one server share them; any other channel by its name). The claim only takes what can start:
/// it skips, in queue order, the due tasks of a receiver that already has `perReceiver` in flight
/// (counting those picked in the same claim), and looks at most `claimSkip` such tasks past what
/// it needs. A skipped task is left as it was, pending in the store, and claimed on a later poll
/// once its receiver has room, so no task ever waits in memory under a lease: every claimed task
/// starts at once, its delivery ends within its channel's timeout (the HTTP client's deadline, the
/// exec channel's kill), and the lease (at least twice the longest timeout) outlasts it. The
/// outcome is recorded under the lease's token as before, so exactly-once recording is unchanged;
/// a crash leaves claimed tasks to their lease and skipped ones pending. Past `claimSkip` skipped
/// tasks, other receivers' tasks wait for the saturated receiver's backlog to be tried (a retry
/// moves a task back by its backoff): a delay, not a loss. Housekeeping (end notices, renewals)
/// takes no delivery slot; its requests share the client's per-host connections and deadlines.
///
/// One `HTTPClient` serves every HTTP channel (connections to a receiver are reused); it exists
/// only when an HTTP channel is configured, and `run` shuts it down when it returns, so a notifier
/// runs once.
public final class Notifier: Sendable {
    let config: NotifierConfig
    let queue: any DeliveryQueue
    let channels: [String: any DeliveryChannel]
    let clock: any WallClock
    let logger: Logger
    public let tally = NotifierTally()
    /// Leases are measured on the real clock, also under `--as-of`.
    let leaseClock = SystemClock()
    /// At most this many deliveries at once.
    static let concurrency = 32
    /// At most this many deliveries at once to one receiver (and connections to one HTTP host).
    static let perReceiver = 8
    /// How many due tasks of saturated receivers one claim looks past for other receivers' tasks.
    static let claimSkip = 1024
    /// The receiver of each channel, by channel name (see `receiver(of:)`).
    let receivers: [String: String]
    /// The HTTP channels' client (nil without one), shut down when `run` returns.
    let http: HTTPClient?

    public init(config: NotifierConfig, queue: any DeliveryQueue, clock: any WallClock, logger: Logger) {
        self.config = config
        self.queue = queue
        self.clock = clock
        self.logger = logger
        // The longest HTTP timeout bounds the client's connection attempts (see `HTTPPost.makeClient`).
        let connect =
            config.channels.values.compactMap { channel -> TimeSpan? in
                switch channel {
                case .webhook(_, _, let timeout, _), .alertmanager(_, let timeout, _): return timeout
                case .exec, .journal: return nil
                }
            }
            .max() ?? .seconds(10)
        var http: HTTPClient?
        var channels: [String: any DeliveryChannel] = [:]
        var receivers: [String: String] = [:]
        for (name, channel) in config.channels {
            receivers[name] = "channel \(name)"
            switch channel {
            case .webhook(let url, let secret, let timeout, _):
                let client = http ?? HTTPPost.makeClient(connect: connect, perHost: Self.perReceiver)
                http = client
                channels[name] = WebhookChannel(
                    url: url, secret: secret, post: HTTPPost(timeout: timeout, client: client))
                receivers[name] = Self.receiver(url)
            case .alertmanager(let url, let timeout, _):
                let client = http ?? HTTPPost.makeClient(connect: connect, perHost: Self.perReceiver)
                http = client
                channels[name] = AlertmanagerChannel(url: url, post: HTTPPost(timeout: timeout, client: client))
                receivers[name] = Self.receiver(url)
            case .exec(let command, let timeout, _):
                channels[name] = ExecChannel(command: command, timeout: timeout)
            case .journal:
                channels[name] = JournalChannel(logger: logger)
            }
        }
        self.http = http
        self.channels = channels
        self.receivers = receivers
    }

    /// An HTTP receiver: its scheme, host and port (`http://127.0.0.1:8080`).
    static func receiver(_ url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? "http"
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(url.port ?? (scheme == "https" ? 443 : 80))"
    }

    /// The receiver a task goes to, for the per-receiver limit.
    /// Every receiver a task can go to: each channel's (see `receiver(of:)`), the journal's included.
    var allReceivers: Set<String> {
        let names = Set(config.channels.keys).union([config.defaultChannel, config.fallbackChannel, "journal"])
        return Set(names.map { receivers[$0] ?? "channel \($0)" })
    }

    func receiver(of task: TaskRecord) -> String {
        receiver(kind: task.kind, tier: task.tier, route: task.route, isFallback: task.isFallback)
    }

    func receiver(of candidate: ClaimCandidate) -> String {
        receiver(kind: candidate.kind, tier: candidate.tier, route: candidate.route, isFallback: candidate.isFallback)
    }

    func receiver(kind: TaskKind, tier: Tier, route: String, isFallback: Bool) -> String {
        let name = config.channel(kind: kind, tier: tier, route: route, isFallback: isFallback)
        return receivers[name] ?? "channel \(name)"
    }

    /// Runs until a graceful shutdown (or, with `once`, until nothing is due now and nothing is in
    /// flight); in-flight deliveries always finish first. Between claims it waits for `wake` (a
    /// task due now committed by the daemon, see `NotifierWake`; a delivery slot freed for a
    /// saturated receiver) for at most the poll interval, beating `pacer` meanwhile.
    public func run(once: Bool, wake: WakeSignal, pacer: WatchdogPacer) async throws(StoreError) {
        var nextHousekeeping = Timestamp(microseconds: 0)
        // --once: one housekeeping round, which wakes the loop when it ends (a round started on every
        // pass kept --once from ever seeing none running when the poll interval was a second or more).
        var housekept = false
        var failure: StoreError?
        var outage = OutageLatch<StoreError>()
        var failures = 0
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully {
                pacer.beat()
                let now = clock.now()
                // Housekeeping runs beside the deliveries (a slow Alertmanager must not hold them, nor
                // the watchdog's pings), one round at a time; --once waits for its first round.
                if (once ? !housekept : now >= nextHousekeeping) && tally.beginHousekeeping() {
                    housekept = true
                    nextHousekeeping = now.adding(.seconds(1))
                    group.addTask {
                        await self.housekeeping(at: now)
                        if once { wake.poke() }
                    }
                }
                do throws(StoreError) {
                    // Taken before the claim: a delivery or housekeeping round that ends after it may
                    // have enqueued a task (a fallback, an overdue escalation) this claim missed.
                    let (inFlight, load) = tally.inFlight
                    let housekeepingRunning = tally.housekeeping
                    let room = Self.concurrency - inFlight.count
                    // Only what can start now: a task of a receiver with `perReceiver` in flight stays pending.
                    var taking = load
                    var saturated = false
                    let everyReceiver = allReceivers
                    let finishedBefore = tally.finishedCount
                    let claimed =
                        room > 0
                        ? try await queue.claim(
                            dueBy: now, leaseUntil: leaseClock.now().adding(config.lease), limit: room,
                            excluding: inFlight, skipping: Self.claimSkip
                        ) { task in
                            let receiver = receiver(of: task)
                            guard taking[receiver, default: 0] < Self.perReceiver else {
                                saturated = true
                                // Every receiver busy: looking further could start nothing.
                                return everyReceiver.allSatisfy { taking[$0, default: 0] >= Self.perReceiver }
                                    ? .stop : .skip
                            }
                            taking[receiver, default: 0] += 1
                            return .take
                        } : []
                    for task in claimed {
                        tally.started(task.id, receiver: receiver(of: task))
                        group.addTask { await self.deliver(task) }
                    }
                    failures = 0
                    if let previous = outage.recover() {
                        logger.log(
                            .notice, .storeRecovered, "the queue is writable again", ["previous_error": "\(previous)"])
                    }
                    if once && claimed.isEmpty && inFlight.isEmpty && !housekeepingRunning { break }
                    if claimed.isEmpty {
                        // Tasks wait for a saturated receiver: claim again as soon as one of its
                        // deliveries ends, not a whole poll interval later (that capped a busy
                        // receiver at `perReceiver` deliveries per interval).
                        tally.wakeOnFinish(saturated ? wake : nil)
                        if !saturated || tally.finishedCount == finishedBefore {
                            _ = await pacer.wait(for: wake, upTo: config.pollInterval)
                        }
                        tally.wakeOnFinish(nil)
                    }
                } catch {
                    guard error.isTransient else {
                        failure = error
                        break
                    }
                    if outage.fail(error) {
                        logger.log(
                            .critical, .storeUnavailable,
                            "the queue cannot be written; deliveries wait until this clears",
                            ["error": "\(error)"])
                    }
                    // Retried with the store's backoff; the watchdog's pings keep their pace meanwhile.
                    failures += 1
                    _ = await pacer.wait(for: WakeSignal(), upTo: RetryPolicy.storeOutage.delay(after: failures))
                }
            }
        }
        // Every delivery and housekeeping round has ended: nothing uses the client any more.
        try? await http?.shutdown()
        if let failure { throw failure }
    }

    /// `task` with its action links, when `api.public_url` is configured and a person can act on it
    /// from the alert (an escalation or outreach).
    func withLinks(_ task: TaskRecord) -> TaskRecord {
        guard let links = config.links, task.kind == .escalation || task.kind.isOutreach else { return task }
        var linked = task
        linked.actions = links.urls(task: task.id, deliverAt: task.deliverAt)
        return linked
    }

    /// Delivers one claimed task and records the outcome.
    func deliver(_ task: TaskRecord) async {
        defer { tally.finished(task.id) }
        let name = config.channel(kind: task.kind, tier: task.tier, route: task.route, isFallback: task.isFallback)
        let outcome: DeliveryOutcome
        if let channel = channels[name] {
            outcome = await channel.deliver(withLinks(task), at: clock.now())
        } else {
            outcome = .failed("no channel '\(name)'")
        }
        let now = clock.now()
        var fields: Logger.Metadata = [
            "client": "\(task.client)", "tier": "\(task.tier.rawValue)", "task": "\(task.id)",
            "kind": "\(task.kind.rawValue)", "channel": "\(name)", "attempts": "\(task.attempts)",
        ]
        do {
            switch outcome {
            case .delivered:
                let renewAt = channels[name]?.renewal.map { now.adding($0) }
                guard try await queue.delivered(task, channel: name, at: now, renewAt: renewAt) else {
                    logger.log(
                        .notice, .taskDelivered,
                        "\(task.kind.rawValue) delivered to \(name) after it was resolved, cancelled or claimed again",
                        fields)
                    return
                }
                tally.count(\.delivered)
                logger.log(.info, .taskDelivered, "\(task.kind.rawValue) delivered to \(name)", fields)
            case .retry(let problem):
                let policy = RetryPolicy(
                    initial: config.retryInitial, longest: config.retryLongest,
                    maxAge: config.channels[name]?.maxAge ?? .hours(1))
                if let next = policy.nextAttempt(
                    after: task.attempts, firstAttempt: task.firstAttemptAt ?? now, now: now,
                    jitter: Double.random(in: 0..<1))
                {
                    guard try await queue.retry(task, channel: name, error: problem, next: next) else { return }
                    tally.count(\.retried)
                    fields["error"] = "\(problem)"
                    fields["next_attempt"] = "\(next)"
                    logger.log(.warning, .taskRetrying, "delivery to \(name) failed; will retry", fields)
                } else {
                    try await recordDead(
                        task, channel: name, problem: "gave up after \(task.attempts) attempts: \(problem)",
                        fields: fields, at: now)
                }
            case .failed(let problem):
                try await recordDead(task, channel: name, problem: problem, fields: fields, at: now)
            }
        } catch {
            // The lease runs out and the task is delivered again: nothing is lost.
            logger.log(
                .error, .taskRetrying, "cannot record a delivery outcome; the task will be redelivered",
                ["error": "\(error)", "task": "\(task.id)"])
        }
    }

    func recordDead(_ task: TaskRecord, channel: String, problem: String, fields: Logger.Metadata, at now: Timestamp)
        async throws(StoreError)
    {
        let (recorded, fallback) = try await queue.dead(task, channel: channel, error: problem, at: now)
        guard recorded else { return }
        tally.count(\.dead)
        var fields = fields
        fields["error"] = "\(problem)"
        if let fallback { fields["fallback_task"] = "\(fallback)" }
        let next = fallback.map { " ; fallback task \($0) goes to \(config.fallbackChannel)" } ?? ""
        logger.log(
            .critical, .taskDead, "\(task.kind.rawValue) could not be delivered to \(channel): dead\(next)", fields)
    }

    /// One round of housekeeping; a store error is logged and the next round tries again.
    func housekeeping(at now: Timestamp) async {
        defer { tally.endHousekeeping() }
        do {
            try await housekeepingRound(at: now)
            tally.housekeepingRecovered()
        } catch {
            // Once until it succeeds again (the claim loop reports the outage itself).
            if tally.housekeepingFailed(error) {
                logger.log(.error, .storeUnavailable, "queue housekeeping failed; retrying", ["error": "\(error)"])
            }
        }
    }

    /// Overdue escalations first (quick, in the store), then end-of-task notices and alert renewals,
    /// each sent concurrently so that one slow channel costs a round one timeout, not one per task.
    func housekeepingRound(at now: Timestamp) async throws(StoreError) {
        for overdue in try await queue.raiseOverdue(at: now, grace: config.overdueGrace, route: config.overdueRoute) {
            tally.count(\.overdue)
            logger.log(
                .warning, .taskOverdue, "outreach task overdue: \(overdue.instruction)",
                [
                    "client": "\(overdue.client)", "tier": "\(overdue.tier.rawValue)", "task": "\(overdue.id)",
                    "kind": "\(overdue.kind.rawValue)", "route": "\(overdue.route)",
                ])
        }
        let notices = try await queue.pendingNotices(limit: Self.concurrency)
        let renewals = try await queue.dueRenewals(at: now, limit: Self.concurrency)
        let outcomes = await withTaskGroup(of: (String, Bool, DeliveryOutcome).self) { group in
            for task in notices {
                // Where it went, or (if it ended while its first delivery was in flight) where it was going.
                let name =
                    task.channel
                    ?? config.channel(kind: task.kind, tier: task.tier, route: task.route, isFallback: task.isFallback)
                let channel = channels[name]
                group.addTask { (task.id, true, await channel?.announceEnd(task, at: now) ?? .delivered) }
            }
            for task in renewals {
                let channel = task.channel.flatMap { channels[$0] }
                let linked = withLinks(task)
                group.addTask { (task.id, false, await channel?.deliver(linked, at: now) ?? .failed("no channel")) }
            }
            var outcomes: [(String, Bool, DeliveryOutcome)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        for (id, isNotice, outcome) in outcomes {
            if isNotice {
                if case .retry = outcome { continue }  // the next round tries again
                try await queue.noticeSent(id)
            } else {
                let task = renewals.first { $0.id == id }
                let every = task?.channel.flatMap { channels[$0]?.renewal }
                switch (outcome, every) {
                case (_, nil): try await queue.renewed(id, next: .distantFuture)
                case (.delivered, let every?): try await queue.renewed(id, next: now.adding(every))
                default: try await queue.renewed(id, next: now.adding(.seconds(30)))
                }
            }
        }
    }
}

/// What a notifier has done since it started (for its STATUS and its exit summary).
public final class NotifierTally: @unchecked Sendable {
    public struct Counts: Sendable {
        public var delivered = 0
        public var retried = 0
        public var dead = 0
        public var overdue = 0
        public var inFlight = 0
    }
    /// The tasks being delivered, with their receivers, and how many each receiver has.
    private var delivering: [String: String] = [:]
    private var perReceiver: [String: Int] = [:]
    private var finished = 0
    private let lock = NSLock()
    private var value = Counts()

    private var housekeepingRunning = false

    public var counts: Counts { lock.withLock { value } }
    var housekeeping: Bool { lock.withLock { housekeepingRunning } }
    /// False when a round is already running.
    func beginHousekeeping() -> Bool {
        lock.withLock {
            guard !housekeepingRunning else { return false }
            housekeepingRunning = true
            return true
        }
    }
    func endHousekeeping() { lock.withLock { housekeepingRunning = false } }

    private var housekeepingOutage = OutageLatch<StoreError>()
    /// Records a failed housekeeping round; true when it starts an outage.
    func housekeepingFailed(_ error: StoreError) -> Bool { lock.withLock { housekeepingOutage.fail(error) } }
    func housekeepingRecovered() { _ = lock.withLock { housekeepingOutage.recover() } }

    /// Poked when a delivery ends (the claim loop waits on it while a receiver is saturated).
    private var finishWake: WakeSignal?
    func wakeOnFinish(_ signal: WakeSignal?) { lock.withLock { finishWake = signal } }
    /// The tasks this process is delivering now, and how many of them each receiver has.
    var inFlight: (ids: Set<String>, receivers: [String: Int]) {
        lock.withLock { (Set(delivering.keys), perReceiver) }
    }
    func started(_ id: String, receiver: String) {
        lock.withLock {
            guard delivering.updateValue(receiver, forKey: id) == nil else { return }
            perReceiver[receiver, default: 0] += 1
            value.inFlight = delivering.count
        }
    }
    /// How many deliveries have ended so far (the claim loop waits for it to change).
    var finishedCount: Int { lock.withLock { finished } }
    func finished(_ id: String) {
        let wake: WakeSignal? = lock.withLock {
            guard let receiver = delivering.removeValue(forKey: id) else { return nil }
            finished += 1
            perReceiver[receiver, default: 1] -= 1
            if perReceiver[receiver] == 0 { perReceiver[receiver] = nil }
            value.inFlight = delivering.count
            return finishWake
        }
        wake?.poke()
    }
    func count(_ field: WritableKeyPath<Counts, Int>) { lock.withLock { value[keyPath: field] += 1 } }
}
