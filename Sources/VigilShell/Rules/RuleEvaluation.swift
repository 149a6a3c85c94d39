import Foundation
import GRDB
import Logging
import VigilCore

/// The commit stage that applies the rule pack to every newly stored event, inside the transaction
/// that stores it: its firings, the evaluation (score, tier, rule set), the client's current
/// score, and the response plan's tasks when its tier rises (see `EpisodePlanner`) are durable
/// exactly when the event is. A `contact` event resolves or counts an attempt on an outreach task.
///
/// Each client's state (`ClientReplay`: the look-back's history and the firings that can still
/// count) is cached between commits and rebuilt from the store on first use, so per-event cost is
/// bounded by the window, not by the client's whole history, and a restart gives the same results.
/// The cache is updated only when the transaction commits.
public final class RuleEvaluation: CommitStage, @unchecked Sendable {
    /// Guards `pack`, `replays` and `rulesetID`. Commits come from one thread; `replace` from the same loop.
    private let lock = NSLock()
    private var pack: RulePack
    private var replays: ClientCache<ClientState>
    private var rulesetID: Int64?
    /// Threads that evaluate clients in parallel.
    let width: Int

    /// Where fired silences of `absent:` rules are logged (after their commit).
    let logger: Logger

    /// `capacity` bounds the clients whose state is cached (see `ClientCache`); the others are
    /// rebuilt from the store when they next check in.
    public init(pack: RulePack, logger: Logger, capacity: Int = 10_000, width: Int = 2) {
        self.logger = logger
        self.pack = pack
        self.replays = ClientCache(capacity: capacity)
        self.width = width
    }

    /// The pack in force.
    public var current: RulePack { lock.withLock { pack } }

    /// Swaps in a reloaded pack. Cached state is dropped: the new look-back may need other history.
    public func replace(_ pack: RulePack) {
        lock.withLock {
            self.pack = pack
            replays.removeAll()
            rulesetID = nil
        }
    }

    public func apply(_ events: [StoredEvent], context: CommitContext, db: Database) throws {
        guard !events.isEmpty else { return }
        let (pack, cachedID) = lock.withLock { (self.pack, rulesetID) }
        let ruleset = try cachedID ?? Self.register(pack, at: context.committedAt, db: db)

        // Each client's events in arrival order, and its state before them: taken out of the cache
        // (so it is mutated in place, never copied) or rebuilt from the store.
        var positions: [String: Int] = [:]
        var clients: [ClientWork] = []
        for (index, event) in events.enumerated() {
            let client = event.checkIn.client
            if let position = positions[client] {
                clients[position].events.append(index)
                continue
            }
            let state = try taken(client) ?? ClientState.load(client: client, before: event.seq, pack: pack, db: db)
            positions[client] = clients.count
            clients.append(ClientWork(state: state, first: index))
        }
        // Clients are independent: evaluate them on `width` threads (pure work, no database access).
        let awaitsSilences = !pack.ruleSet.absenceRules.isEmpty
        let planner = EpisodePlanner(plans: pack.plans)
        let detected = context.committedAt
        Parallel.forEach(clients.count, width: width) { position in
            let work = clients[position]
            for index in work.events {
                let checkIn = events[index].checkIn
                // The tier in the quiet just before this event: `low` ends an open episode.
                let quiet = max(checkIn.at, work.state.replay.history.newest ?? checkIn.at)
                let before = work.state.cursor.open == nil ? Tier.low : work.state.replay.score(at: quiet).tier
                let ingested = work.state.replay.ingest(checkIn)
                let score = work.state.replay.score(at: checkIn.at)
                work.silences += ingested.silences
                work.results.append((ingested.fired, score))
                // Planning acts on the client's tier now (at its newest observation), so a late event
                // neither closes an episode nor re-plans a tier the client has since left.
                let current = quiet == checkIn.at ? score : work.state.replay.score(at: quiet)
                let step = planner.step(
                    &work.state.cursor, client: checkIn.client, before: before, after: current.tier, at: detected)
                if step.changed != nil || step.closed != nil {
                    let reasons = step.tasks.isEmpty ? [] : reasonsFor(work.state.replay, at: quiet, pack: pack)
                    work.steps[index] = (step, current.score, reasons)
                }
            }
            if awaitsSilences { work.due = work.state.replay.nextAbsenceDue }
        }
        var outcomes = [(fired: [Firing], score: RiskScore)?](repeating: nil, count: events.count)
        for work in clients {
            for (index, outcome) in zip(work.events, work.results) { outcomes[index] = outcome }
        }

        let insertEvaluation = try db.cachedStatement(
            sql: "INSERT INTO evaluations(event_seq, fired, score, tier, ruleset) VALUES (?, ?, ?, ?, ?)")
        var latest: [String: (at: Timestamp, score: RiskScore)] = [:]
        for (event, outcome) in zip(events, outcomes) {
            guard let (fired, score) = outcome else { continue }
            let checkIn = event.checkIn
            var evaluation = RawInsert(insertEvaluation)
            evaluation.bind(event.seq)
            evaluation.bind(fired.map(\.rule).joined(separator: " "))
            evaluation.bind(score.score)
            evaluation.bind(score.tier.rawValue)
            evaluation.bind(ruleset)
            try evaluation.step(db: db)
            if latest[checkIn.client].map({ $0.at <= checkIn.at }) ?? true {
                latest[checkIn.client] = (checkIn.at, score)
            }
        }
        let silences = positions.sorted { $0.key < $1.key }.flatMap { client, position in
            clients[position].silences.map { (client, $0) }
        }
        try Self.record(silences, ruleset: ruleset, at: context.committedAt, db: db)
        try Self.updateClients(latest, db: db)
        if awaitsSilences {
            let due = try db.cachedStatement(sql: "UPDATE clients SET absence_due = ? WHERE id = ?")
            for (client, position) in positions {
                try due.execute(arguments: [clients[position].due?.microseconds, client])
            }
        }
        // Planning and contacts in event order, so a contact resolves only tasks enqueued before it.
        var planning = PlanningRecord()
        for (index, event) in events.enumerated() {
            let checkIn = event.checkIn
            if let position = positions[checkIn.client], let (step, score, reasons) = clients[position].steps[index] {
                try TaskLedger.record(
                    step, client: checkIn.client, score: score, reasons: reasons, at: detected, db: db, into: &planning)
            }
            if checkIn.kind == .contact, let contact = checkIn.contact {
                try TaskLedger.applyContact(
                    contact, client: checkIn.client, event: checkIn.id, observedAt: checkIn.at, at: detected, db: db,
                    into: &planning)
            }
        }
        let published = Dictionary(uniqueKeysWithValues: positions.map { ($0.key, clients[$0.value].state) })
        publishAfterCommit(published, silences: silences, planning: planning, pack: pack, ruleset: ruleset, db: db)
    }

    /// Decides every silence of an `absent:` rule due by `now` (see `ClientReplay.decideAbsences`), in
    /// one transaction: each decision is stored in `absences`, a firing moves the client's score, and
    /// the client's next deadline is set. Returns what was decided, fired or not.
    public func decideAbsences(at now: Timestamp, store: EventStore) throws(StoreError) -> AbsenceRound {
        let (pack, cachedID) = lock.withLock { (self.pack, rulesetID) }
        guard !pack.ruleSet.absenceRules.isEmpty else { return AbsenceRound(decisions: [], clients: 0) }
        return try store.write { db in
            let due = try String.fetchAll(
                db, sql: "SELECT id FROM clients WHERE absence_due <= ? ORDER BY absence_due, id LIMIT ?",
                arguments: [now.microseconds, AbsenceRound.clientsPerRound])
            guard !due.isEmpty else { return AbsenceRound(decisions: [], clients: 0) }
            let ruleset = try cachedID ?? Self.register(pack, at: now, db: db)
            let next = try db.cachedStatement(sql: "UPDATE clients SET absence_due = ? WHERE id = ?")
            var decided: [(client: String, decision: SilenceDecision)] = []
            var latest: [String: (at: Timestamp, score: RiskScore)] = [:]
            var touched: [String: ClientState] = [:]
            var planning = PlanningRecord()
            let planner = EpisodePlanner(plans: pack.plans)
            for client in due {
                var state =
                    try taken(client) ?? ClientState.load(client: client, before: Int64.max, pack: pack, db: db)
                for decision in state.replay.decideAbsences(dueBy: now) {
                    decided.append((client, decision))
                    guard decision.fired else { continue }
                    latest[client] = (decision.firing.at, decision.score)
                    // The tier just before the deadline tells whether an open episode had ended (an
                    // absence rule may fire at any tier); the tier after it, whether this is a rise.
                    let step = planner.step(
                        &state.cursor, client: client, before: decision.before.tier, after: decision.score.tier,
                        at: now)
                    let reasons =
                        step.tasks.isEmpty ? [] : reasonsFor(state.replay, at: decision.firing.at, pack: pack)
                    try TaskLedger.record(
                        step, client: client, score: decision.score.score, reasons: reasons, at: now, db: db,
                        into: &planning)
                }
                try next.execute(arguments: [state.replay.nextAbsenceDue?.microseconds, client])
                touched[client] = state
            }
            try Self.record(decided, ruleset: ruleset, at: now, db: db)
            try Self.updateClients(latest, db: db)
            publishAfterCommit(touched, silences: decided, planning: planning, pack: pack, ruleset: ruleset, db: db)
            return AbsenceRound(decisions: decided, clients: due.count)
        }
    }

    /// When the pack in force differs from the one last in force with this store and has `absent:`
    /// rules, marks every client for the next absence check (silences may predate the pack, and
    /// deadlines were kept for the other pack's rules). Called at start and after a reload.
    public func awaitAbsencesIfThePackChanged(store: EventStore) throws(StoreError) {
        let pack = current
        try store.write { db in
            let previous = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'pack_in_force'")
            guard previous != pack.hash else { return }
            try db.execute(
                sql:
                    "INSERT INTO settings(key, value) VALUES ('pack_in_force', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [pack.hash])
            guard !pack.ruleSet.absenceRules.isEmpty else { return }
            try db.execute(sql: "UPDATE clients SET absence_due = last_at")
        }
    }

    /// Once the transaction commits: logs what it decided, and puts the clients' state back in the
    /// cache (dropped instead if a reload swapped the pack meanwhile, so rule sets never mix).
    private func publishAfterCommit(
        _ published: [String: ClientState], silences: [(client: String, decision: SilenceDecision)],
        planning: PlanningRecord, pack: RulePack, ruleset: Int64, db: Database
    ) {
        db.afterNextTransaction { [self] _ in
            logFired(silences)
            logPlanning(planning)
            lock.withLock {
                guard self.pack.hash == pack.hash else { return }
                rulesetID = ruleset
                for (client, state) in published { replays.put(client, state) }
            }
        }
    }

    /// The client's cached state, removed from the cache: the caller owns it (its arrays are not
    /// shared, so mutating it copies nothing) and publishes it back after the commit. A failed
    /// commit loses nothing: the state is rebuilt from the store.
    private func taken(_ client: String) -> ClientState? {
        lock.withLock { replays.take(client) }
    }

    /// Stores decided silences in `absences` (each once).
    static func record(
        _ decisions: [(client: String, decision: SilenceDecision)], ruleset: Int64, at now: Timestamp, db: Database
    )
        throws
    {
        guard !decisions.isEmpty else { return }
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO absences(client, rule, at, fired, score, tier, ruleset, decided_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client, rule, at) DO NOTHING
                """)
        for (client, decision) in decisions {
            let firing = decision.firing
            try insert.execute(arguments: [
                client, firing.rule, firing.at.microseconds, decision.fired, decision.score.score,
                decision.score.tier.rawValue, ruleset, now.microseconds,
            ])
        }
    }

    /// Logs each silence that fired (once committed), for supervisors tailing the journal.
    func logFired(_ decisions: [(client: String, decision: SilenceDecision)]) {
        for (client, decision) in decisions where decision.fired {
            logger.log(
                .notice, .silenceFired, "no contact within the rule's window: absence rule fired",
                [
                    "client": "\(client)", "rule": "\(decision.firing.rule)", "at": "\(decision.firing.at)",
                    "score": "\(decision.score.score)", "tier": "\(decision.score.tier.rawValue)",
                ])
        }
    }

    /// Logs what planning did (once committed): each rise of an episode, each escalation enqueued
    /// (at a priority that rises with the tier) and each contact applied to an outreach task.
    func logPlanning(_ record: PlanningRecord) {
        for change in record.changes where change.tasks > 0 {
            logger.log(
                change.episode.tier.logLevel, .episodeRaised,
                "\(change.opened ? "episode opened" : "episode raised") at tier \(change.episode.tier.rawValue): \(change.tasks) tasks enqueued",
                [
                    "client": "\(change.client)", "tier": "\(change.episode.tier.rawValue)",
                    "episode": "\(change.episode.number)", "tasks": "\(change.tasks)",
                ])
        }
        for (task, score) in record.escalations {
            logger.log(
                task.tier.logLevel, .escalationEnqueued, "escalation enqueued: \(task.instruction)",
                [
                    "client": "\(task.client)", "tier": "\(task.tier.rawValue)", "task": "\(task.id)",
                    "kind": "\(task.kind.rawValue)", "route": "\(task.route)", "score": "\(score)",
                    "episode": "\(task.episode)",
                ])
        }
        for contact in record.contacts {
            let what =
                contact.resolved
                ? "contact reached the client: task resolved"
                : contact.task == nil
                    ? "contact recorded: no open outreach task to apply it to"
                    : "contact attempt recorded (\(contact.outcome.rawValue))"
            logger.log(
                .info, .contactRecorded, "\(what)",
                [
                    "client": "\(contact.client)", "task": "\(contact.task ?? "")",
                    "outcome": "\(contact.outcome.rawValue)",
                ])
        }
    }

    /// The client's current score: the evaluation of its latest observed event (never moved back by
    /// a late event observed earlier).
    static func updateClients(_ latest: [String: (at: Timestamp, score: RiskScore)], db: Database) throws {
        let update = try db.cachedStatement(
            sql: """
                UPDATE clients SET score = ?, tier = ?, scored_at = ?
                WHERE id = ? AND (scored_at IS NULL OR scored_at <= ?)
                """)
        for (client, state) in latest.sorted(by: { $0.key < $1.key }) {
            try update.execute(arguments: [
                state.score.score, state.score.tier.rawValue, state.at.microseconds, client, state.at.microseconds,
            ])
        }
    }

    /// The id of `pack` in `rulesets`, recorded with its rules on its first use.
    static func register(_ pack: RulePack, at time: Timestamp, db: Database) throws -> Int64 {
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM rulesets WHERE hash = ?", arguments: [pack.hash]) {
            return id
        }
        try db.execute(
            sql: """
                INSERT INTO rulesets(hash, first_used_at, longest_half_life, moderate, high, imminent)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                pack.hash, time.microseconds, pack.ruleSet.longestHalfLife.microseconds, pack.thresholds.moderate,
                pack.thresholds.high, pack.thresholds.imminent,
            ])
        let id = db.lastInsertedRowID
        for rule in pack.ruleSet.rules {
            try db.execute(
                sql: """
                    INSERT INTO ruleset_rules(ruleset, rule, summary, weight, half_life, floor, evidence)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    id, rule.id, rule.summary, rule.weight, rule.halfLife.microseconds, rule.floor?.rawValue,
                    rule.evidence,
                ])
        }
        return id
    }
}

/// What the daemon keeps per client between commits: its rule state and its episode state.
struct ClientState: Sendable {
    var replay: ClientReplay
    var cursor: EpisodeCursor

    /// The state after every event of `client` stored before `seq`, rebuilt from the store.
    static func load(client: String, before seq: Int64, pack: RulePack, db: Database) throws -> ClientState {
        ClientState(
            replay: try StoredReplay.load(client: client, before: seq, pack: pack, db: db),
            cursor: try TaskLedger.cursor(client: client, db: db))
    }
}

/// The firings active at `at`, as the reasons of the tasks a rise enqueues.
func reasonsFor(_ replay: ClientReplay, at: Timestamp, pack: RulePack) -> [TaskReason] {
    TaskReason.of(replay.activeFirings(at: at), ruleSet: pack.ruleSet)
}

/// One client's evaluation during a commit, in a box that exactly one lane mutates in place.
final class ClientWork: @unchecked Sendable {
    var state: ClientState
    /// Indices of its events in the commit, in arrival order.
    var events: [Int]
    var results: [(fired: [Firing], score: RiskScore)] = []
    /// Silences of `absent:` rules that fell due before its events, decided while ingesting them.
    var silences: [SilenceDecision] = []
    var due: Timestamp?
    /// The episode steps that changed something, by the event's index in the commit, with the
    /// score after the event and the reasons for any tasks.
    var steps: [Int: (step: EpisodeStep, score: Double, reasons: [TaskReason])] = [:]

    init(state: ClientState, first: Int) {
        self.state = state
        self.events = [first]
    }
}

/// What one transaction of the absence timer decided, and how many due clients it looked at (a
/// full round means more may be due).
public struct AbsenceRound: Sendable {
    public static let clientsPerRound = 1_000
    public var decisions: [(client: String, decision: SilenceDecision)]
    public var clients: Int
}
