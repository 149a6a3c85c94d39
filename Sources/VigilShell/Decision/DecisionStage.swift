import Foundation
import Logging
import VigilCore

/// The shell around the decision core: inside the transaction that stores check-ins (or that a clock
/// tick opens), it loads each client's state, runs the `Evaluator`, writes its effects with the
/// `EffectWriter`, and once the transaction commits logs what was decided and caches the states.
///
/// Each client's rule state and episode are cached between commits and rebuilt from the store on
/// first use, so per-event cost is bounded by the window, not by the client's whole history, and a
/// restart gives the same results. Its open tasks are read afresh in every transaction. On a store
/// shared by several nodes, another node may have changed the client since: a cached state is used
/// only while the client's revision in the store is the one it was cached at
/// (`StoreSession.revisions(of:)`), and rebuilt otherwise.
public final class DecisionStage: CommitStage, @unchecked Sendable {
    /// Guards `pack`, `evaluator`, `cache` and `rulesetID`. Commits come from one thread; `replace`
    /// from the same service.
    private let lock = NSLock()
    private var pack: RulePack
    private var evaluator: Evaluator
    private var cache: ClientCache<ClientWork>
    private var rulesetID: Int64?
    /// Threads that evaluate clients in parallel.
    let width: Int
    let logger: Logger
    /// Called after a commit that enqueued a task to be delivered now (wakes the notifier).
    let taskDue: @Sendable () -> Void

    /// `capacity` bounds the clients whose state is cached (see `ClientCache`); the others are
    /// rebuilt from the store when they next check in.
    public init(
        pack: RulePack, logger: Logger, capacity: Int = 10_000, width: Int = 2,
        taskDue: @escaping @Sendable () -> Void = {}
    ) {
        self.pack = pack
        self.evaluator = pack.evaluator
        self.logger = logger
        self.cache = ClientCache(capacity: capacity)
        self.width = width
        self.taskDue = taskDue
    }

    /// The pack in force.
    public var current: RulePack { lock.withLock { pack } }

    /// Swaps in a reloaded pack. Cached state is dropped: the new look-back may need other history.
    public func replace(_ pack: RulePack) {
        lock.withLock {
            self.pack = pack
            evaluator = pack.evaluator
            cache.removeAll()
            rulesetID = nil
        }
    }

    /// Before the commit's events are stored: takes each client's state (cached, or rebuilt from
    /// what is stored), its open tasks and its new check-ins, and starts evaluating the clients on
    /// other threads while the events are stored. What is stored before them is all a client's
    /// evaluation depends on, so the result stands for every client whose check-ins all get stored
    /// (`apply` evaluates the others again).
    public func start(_ pending: [PendingEvent], context: CommitContext, session: some StoreSession) throws
        -> Evaluation?
    {
        guard !pending.isEmpty else { return nil }
        let (pack, evaluator, cachedID) = lock.withLock { (self.pack, self.evaluator, rulesetID) }
        let ruleset = try cachedID ?? Self.register(pack, at: context.committedAt, session: session)
        // Each client's check-ins (their positions in `pending`) in arrival order. A check-in is
        // copied once, into its client's work.
        var positions: [String: Int] = [:]
        var arrivals: [(client: String, events: [Int])] = []
        for (index, event) in pending.enumerated() {
            let client = event.checkIn.client
            if let position = positions[client] {
                arrivals[position].events.append(index)
            } else {
                positions[client] = arrivals.count
                arrivals.append((client, [index]))
            }
        }
        let clients = try works(for: arrivals.map { ($0.client, Int64.max) }, pack: pack, session: session)
        for (work, arrival) in zip(clients, arrivals) {
            work.checkIns.reserveCapacity(arrival.events.count)
            for position in arrival.events { work.checkIns.append(pending[position].checkIn) }
        }
        let now = context.committedAt
        let loop = SharedLoop(clients.count, width: width) { position in
            let work = clients[position]
            work.effects = evaluator.evaluate(&work.state, checkIns: work.checkIns, at: now)
        }
        var clientOf = [Int](repeating: 0, count: pending.count)
        for (client, arrival) in arrivals.enumerated() {
            for position in arrival.events { clientOf[position] = client }
        }
        return Evaluation(
            pack: pack, evaluator: evaluator, ruleset: ruleset, clients: clients, clientOf: clientOf, loop: loop)
    }

    /// Once the events are stored: waits for the evaluation `start` began, evaluates again the
    /// clients whose check-ins were not all stored (a duplicate or a conflict among them: their
    /// state is rebuilt from the store), and writes every effect in the transaction. A client all
    /// of whose check-ins were replays is left as stored; its state, evaluated ahead, is dropped
    /// from the cache (rebuilt from the store when it next checks in).
    public func apply(
        _ events: [StoredEvent], started: Evaluation?, context: CommitContext, session: some StoreSession
    ) throws {
        guard let started else { return }
        started.loop.finish()
        // Each client's stored check-ins (their indices in `events`), in arrival order.
        var stored = [[Int]](repeating: [], count: started.clients.count)
        for index in events.indices { stored[started.clientOf[events[index].position]].append(index) }
        // Each client with stored check-ins, in arrival order (its tasks are numbered in it).
        var decided: [ClientWork?] = started.clients.map { _ in nil }
        var again: [(position: Int, client: String, stored: [Int])] = []
        for (position, (work, stored)) in zip(started.clients, stored).enumerated() where !stored.isEmpty {
            if stored.count == work.checkIns.count {
                work.seqs = stored.map { events[$0].seq }
                decided[position] = work
            } else {
                again.append((position, work.state.client, stored))
            }
        }
        let now = context.committedAt
        if !again.isEmpty {
            // The lowest sequence number of a client's stored events: its state is what was stored
            // before it (a store numbering a statement's rows out of their order would still not
            // count one of them as history).
            let rebuilt = try works(
                for: again.map { ($0.client, $0.stored.lazy.map { events[$0].seq }.min() ?? .max) },
                pack: started.pack, session: session)
            for (work, new) in zip(rebuilt, again) {
                work.seqs = new.stored.map { events[$0].seq }
                work.checkIns = new.stored.map { events[$0].checkIn }
                work.effects = started.evaluator.evaluate(&work.state, checkIns: work.checkIns, at: now)
                decided[new.position] = work
            }
        }
        let clients = decided.compactMap { $0 }
        var writer = EffectWriter(session: session, ruleset: started.ruleset, at: now)
        for work in clients {
            try writer.write(work.effects, client: work.state.client, seqs: work.seqs, checkIns: work.checkIns)
        }
        try writer.flush()
        let names = clients.map(\.state.client)
        let advanced = try session.advanceRevisions(of: names)
        for work in clients { work.revision = advanced?[work.state.client] }
        try publishAfterCommit(
            clients, record: writer.record, pack: started.pack, ruleset: started.ruleset, at: now, session: session)
    }

    /// What `start` began for a commit: each client's work, evaluated by `loop`.
    public struct Evaluation {
        let pack: RulePack
        let evaluator: Evaluator
        let ruleset: Int64
        /// In the order of the clients' first check-ins in the commit.
        let clients: [ClientWork]
        /// For each pending event, its client's index in `clients`.
        let clientOf: [Int]
        let loop: SharedLoop
    }

    /// Each client's work: its state before the given sequence number (from the cache when cached
    /// and current, else rebuilt from the store) and its open tasks as they are now.
    private func works(
        for clients: [(client: String, before: Int64)], pack: RulePack, session: some StoreSession
    ) throws -> [ClientWork] {
        let names = clients.map(\.client)
        let revisions = try session.revisions(of: names)
        var slots = SlotKeys()
        let openTasks = try StoredClient.openTasks(clients: names, slots: &slots, session: session)
        let cached = clients.map { taken($0.client, revisions: revisions) }
        // Of the others, those with no earlier event are new: nothing to read for them.
        let known = try StoredClient.withEarlierEvents(
            zip(clients, cached).filter { $1 == nil }.map { ($0.0.client, $0.0.before) }, session: session)

        return try zip(clients, cached).map { client, cached in
            let work =
                try cached
                ?? ClientWork(
                    known.contains(client.client)
                        ? StoredClient.load(client: client.client, before: client.before, pack: pack, session: session)
                        : StoredClient.new(client.client, pack: pack))
            work.state.openTasks = openTasks[client.client] ?? []
            return work
        }
    }

    /// Decides every silence of an `absent:` rule due by `now` for up to `AbsenceRound.clientsPerRound`
    /// clients, in the caller's transaction: each decision is stored in `absences`, a firing moves
    /// the client's score (and may raise its episode), and the client's next deadline is set. The due
    /// clients are serialized with their check-ins' evaluations on other nodes
    /// (`StoreSession.serialize`) before they are loaded.
    public func tick(at now: Timestamp, session: some StoreSession) throws -> AbsenceRound {
        let (pack, evaluator, cachedID) = lock.withLock { (self.pack, self.evaluator, rulesetID) }
        guard !pack.ruleSet.absenceRules.isEmpty else { return AbsenceRound(decisions: [], clients: 0) }
        let due = try session.fetchAll(
            "SELECT id FROM clients WHERE absence_due <= ? ORDER BY absence_due, id LIMIT ?", now.microseconds,
            AbsenceRound.clientsPerRound
        ) { $0.text(0) ?? "" }
        guard !due.isEmpty else { return AbsenceRound(decisions: [], clients: 0) }
        try session.serialize(clients: due)
        let ruleset = try cachedID ?? Self.register(pack, at: now, session: session)
        var writer = EffectWriter(session: session, ruleset: ruleset, at: now)
        var decided: [(client: String, decision: SilenceDecision)] = []
        var clients: [ClientWork] = []
        let revisions = try session.revisions(of: due)
        var slots = SlotKeys()
        let openTasks = try StoredClient.openTasks(clients: due, slots: &slots, session: session)
        for client in due {
            let work =
                try taken(client, revisions: revisions)
                ?? ClientWork(StoredClient.load(client: client, before: .max, pack: pack, session: session))
            work.state.openTasks = openTasks[client] ?? []
            let effects = evaluator.tick(&work.state, at: now)
            for case .silence(let decision) in effects { decided.append((client, decision)) }
            try writer.write(effects, client: client)
            clients.append(work)
        }
        try writer.flush()
        let advanced = try session.advanceRevisions(of: due)
        for work in clients { work.revision = advanced?[work.state.client] }
        try publishAfterCommit(clients, record: writer.record, pack: pack, ruleset: ruleset, at: now, session: session)
        return AbsenceRound(decisions: decided, clients: due.count)
    }

    /// When the pack in force differs from the one last in force with this store and has `absent:`
    /// rules, marks every client for the next absence check (silences may predate the pack, and
    /// deadlines were kept for the other pack's rules). Called at start and after a reload.
    public func awaitAbsencesIfThePackChanged(session: some StoreSession) throws {
        let pack = current
        let previous = try session.fetchOne("SELECT value FROM settings WHERE key = 'pack_in_force'") { $0.text(0) }
        guard previous != pack.hash else { return }
        try session.execute(
            "INSERT INTO settings(key, value) VALUES ('pack_in_force', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            pack.hash)
        guard !pack.ruleSet.absenceRules.isEmpty else { return }
        try session.execute("UPDATE clients SET absence_due = last_at")
    }

    /// Announces a task due now with the commit; once the transaction commits: logs what it
    /// decided, wakes the notifier for tasks due now, and puts the clients' state back in the cache
    /// (dropped instead if a reload swapped the pack meanwhile, so rule sets never mix). Open tasks
    /// are not cached: they are read afresh.
    private func publishAfterCommit(
        _ clients: [ClientWork], record: DecisionRecord, pack: RulePack, ruleset: Int64, at now: Timestamp,
        session: some StoreSession
    ) throws {
        if record.deliversBy(now) { try session.announceTaskDue() }
        session.afterCommit { [self] in
            DecisionLog(logger: logger).log(record)
            if record.deliversBy(now) { taskDue() }
            let spent = lock.withLock {
                guard self.pack.hash == pack.hash else { return [ClientWork.Spent]() }
                rulesetID = ruleset
                return clients.map { work in
                    defer { cache.put(work.state.client, work) }
                    return work.finish()
                }
            }
            Parallel.release(spent)
        }
    }

    /// The client's cached state, removed from the cache: the caller owns it (its arrays are not
    /// shared, so mutating it copies nothing) and publishes it back after the commit. A failed
    /// commit loses nothing: the state is rebuilt from the store. Nil also when another node has
    /// changed the client since it was cached (its stored revision, in `revisions`, is another).
    private func taken(_ client: String, revisions: [String: Int64]?) -> ClientWork? {
        guard let work = lock.withLock({ cache.take(client) }) else { return nil }
        guard let revisions else { return work }
        return revisions[client] == work.revision ? work : nil
    }

    /// The id of `pack` in `rulesets`, recorded with its rules on its first use (by whichever node
    /// gets there first: the others find it stored).
    static func register(_ pack: RulePack, at time: Timestamp, session: some StoreSession) throws -> Int64 {
        let find = "SELECT id FROM rulesets WHERE hash = ?"
        if let id = try session.fetchOne(find, pack.hash, read: { $0.int64(0) }) { return id }
        let first = pack.policy.domains[0]
        let inserted = try session.fetchOne(
            """
            INSERT INTO rulesets(
                hash, first_used_at, longest_half_life, moderate, high, imminent, policy, longest_active)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING RETURNING id
            """,
            pack.hash, time.microseconds, pack.ruleSet.longestHalfLife.microseconds, first.thresholds.moderate,
            first.thresholds.high, first.thresholds.imminent, JSONOutput.text(pack.policy),
            pack.ruleSet.longestActiveSpan.microseconds
        ) { $0.int64(0) }
        guard let id = inserted else {
            // Another node recorded it meanwhile (its insert committed before ours could).
            guard let id = try session.fetchOne(find, pack.hash, read: { $0.int64(0) }) else {
                throw StoreError(path: "rulesets", problem: "rule set \(pack.hash) neither recorded nor found")
            }
            return id
        }
        for rule in pack.ruleSet.rules {
            try session.execute(
                """
                INSERT INTO ruleset_rules(
                    ruleset, rule, summary, weight, half_life, floor, evidence, domain, acute_for, active_for)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                id, rule.id, rule.summary, rule.weight, rule.halfLife.microseconds, rule.floor?.rawValue,
                rule.evidence, rule.domainName, rule.acuteFor.microseconds, rule.activeFor.microseconds)
        }
        return id
    }
}

extension RulePack {
    /// The decision core for this pack.
    public var evaluator: Evaluator { Evaluator(ruleSet: ruleSet, policy: policy, plans: plans) }
}

/// One client's state and its evaluation during a commit, in a box that exactly one lane mutates
/// in place. The cache holds the box between commits, so a client's state is never copied: only
/// the reference moves in and out.
final class ClientWork: @unchecked Sendable {
    var state: ClientState
    /// Its new check-ins in the commit, in arrival order, and their sequence numbers (kept apart so
    /// the evaluator gets the check-ins without another copy of each).
    var checkIns: [CheckIn] = []
    var seqs: [Int64] = []
    var effects: [Effect] = []
    /// The client's revision in a store shared by nodes once this transaction commits (nil: one writer).
    var revision: Int64?

    init(_ state: ClientState) { self.state = state }

    /// Once the commit is done: keeps the state, and hands back the commit's inputs and outputs and
    /// the open tasks (read afresh in every transaction), so a cached client holds nothing more.
    func finish() -> Spent {
        defer { (state.openTasks, checkIns, seqs, effects) = ([], [], [], []) }
        return Spent(checkIns: checkIns, effects: effects, openTasks: state.openTasks)
    }

    /// What a commit left in a client's work, for `Parallel.release` to free off the committing thread.
    struct Spent: Sendable {
        let checkIns: [CheckIn]
        let effects: [Effect]
        let openTasks: [OpenTask]
    }
}

/// What one transaction of the absence timer decided, and how many due clients it looked at (a
/// full round means more may be due).
public struct AbsenceRound: Sendable {
    public static let clientsPerRound = 1_000
    public var decisions: [(client: String, decision: SilenceDecision)]
    public var clients: Int

    public init(decisions: [(client: String, decision: SilenceDecision)], clients: Int) {
        self.decisions = decisions
        self.clients = clients
    }
}
