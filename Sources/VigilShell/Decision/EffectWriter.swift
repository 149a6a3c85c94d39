import VigilCore

/// Writes the evaluator's effects into the store, inside the transaction of the check-ins (or clock
/// tick) that caused them: the one place decisions become rows. What it changed is collected in a
/// `DecisionRecord`, logged once the transaction commits.
struct EffectWriter<Session: StoreSession> {
    let session: Session
    let ruleset: Int64
    /// The commit's time: when tasks are created, superseded and resolved.
    let now: Timestamp
    var record = DecisionRecord()
    /// The last reasons encoded, and their text.
    private var encodedReasons: (reasons: [TaskReason], text: String)?
    /// What every client gets, sent for all of them by `flush()` (a few statements in all): the
    /// evaluations of their check-ins, and their rows' latest score and next absence deadline
    /// (with the clients' index entries, for clients that checked in).
    private var evaluations: [EvaluationRow] = []
    private var indexed: [ClientIndex.Entry] = []
    private var clientRows: [ClientScoreRow] = []

    init(session: Session, ruleset: Int64, at now: Timestamp) {
        self.session = session
        self.ruleset = ruleset
        self.now = now
    }

    /// Writes what `write` collected for every client. Nothing in the transaction reads it before.
    mutating func flush() throws {
        try session.insertMany(
            "INSERT INTO evaluations(event_seq, fired, score, tier, ruleset, ended) VALUES (?, ?, ?, ?, ?, ?)",
            rows: evaluations)
        try ClientIndex.write(indexed, session: session)
        // A clock tick's clients: their current score, that of their latest observation (never
        // moved back by a late check-in observed earlier), and their next absence deadline when
        // the tick set one.
        let scored = "u.column4 IS NOT NULL AND (clients.scored_at IS NULL OR clients.scored_at <= u.column4)"
        let scoredOneRow = "?4 IS NOT NULL AND (scored_at IS NULL OR scored_at <= ?4)"
        try session.runMany(
            """
            UPDATE clients SET score = CASE WHEN \(scored) THEN u.column2 ELSE clients.score END,
                tier = CASE WHEN \(scored) THEN u.column3 ELSE clients.tier END,
                scored_at = CASE WHEN \(scored) THEN u.column4 ELSE clients.scored_at END,
                absence_due = CASE WHEN u.column5 = 1 THEN u.column6 ELSE clients.absence_due END
            FROM (VALUES (CAST(? AS TEXT), CAST(? AS DOUBLE PRECISION), CAST(? AS TEXT), CAST(? AS BIGINT),
                CAST(? AS BIGINT), CAST(? AS BIGINT))) AS u
            WHERE clients.id = u.column1
            """,
            oneRow: """
                UPDATE clients SET score = CASE WHEN \(scoredOneRow) THEN ?2 ELSE score END,
                    tier = CASE WHEN \(scoredOneRow) THEN ?3 ELSE tier END,
                    scored_at = CASE WHEN \(scoredOneRow) THEN ?4 ELSE scored_at END,
                    absence_due = CASE WHEN ?5 = 1 THEN ?6 ELSE absence_due END
                WHERE id = ?1
                """, rows: clientRows)
        evaluations = []
        indexed = []
        clientRows = []
    }

    /// Writes one client's effects; `checkIns` (stored as `seqs`) are those the effects' indices
    /// refer to: the client's check-ins newly stored in the commit, added to its index entry.
    mutating func write(_ effects: [Effect], client: String, seqs: [Int64] = [], checkIns: [CheckIn] = []) throws {
        var latest: (at: Timestamp, score: RiskScore)?
        var absenceDue: Timestamp??
        func observe(_ score: RiskScore, at: Timestamp) {
            if latest.map({ $0.at <= at }) ?? true { latest = (at, score) }
        }
        // A rise's tasks come one after another: they are inserted together.
        var planned: [(task: PlannedTask, score: Double, reasons: [TaskReason])] = []
        for effect in effects {
            if case .planned(let task, let score, let reasons) = effect {
                planned.append((task, score, reasons))
                continue
            }
            try insert(&planned, client: client)
            switch effect {
            case .evaluated(let index, let fired, let ended, let score):
                evaluations.append(
                    EvaluationRow(
                        seq: seqs[index], fired: fired.map(\.rule).joined(separator: " "), score: score.score,
                        tier: score.tier.rawValue, ruleset: ruleset,
                        ended: ended.isEmpty ? nil : StoredFiring.endedText(ended)))
                observe(score, at: checkIns[index].at)
            case .silence(let decision):
                let firing = decision.firing
                try session.execute(
                    """
                    INSERT INTO absences(client, rule, at, fired, score, tier, ruleset, decided_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client, rule, at) DO NOTHING
                    """, client, firing.rule, firing.at.microseconds, decision.fired, decision.score.score,
                    decision.score.tier.rawValue, ruleset, now.microseconds)
                if decision.fired {
                    observe(decision.score, at: firing.at)
                    record.silences.append((client, decision))
                }
            case .episode(let change):
                try write(change, client: client)
            case .planned:
                continue
            case .superseded(let task, let tier, let reason):
                if try cancel(task, reason: reason) { record.superseded.append((client, task, tier)) }
            case .ended(let task, let end):
                let changed: Bool
                switch end {
                case .cancelled(let reason): changed = try cancel(task, reason: reason)
                case .resolved(let by):
                    changed =
                        try session.execute(
                            """
                            UPDATE tasks SET state = 'resolved', resolved_at = ?, resolved_by = ?, lease_token = NULL,
                                notice_pending = \(Self.noticeIfDelivered), renew_at = NULL
                            WHERE id = ? AND state IN \(TaskState.openList)
                            """, now.microseconds, by, task) == 1
                }
                if changed { record.ended.append((client, task, end)) }
            case .rescheduled(let task, let due):
                try session.execute(
                    "UPDATE tasks SET due = ? WHERE id = ? AND state IN \(TaskState.openList)", due.microseconds, task)
            case .program(let change):
                let program = change.program
                try session.execute(
                    """
                    INSERT INTO programs(client, number, started_at, extended_at, episode, contacts, last_delivery,
                        stopped_at, stop_reason)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(client, number) DO UPDATE SET extended_at = excluded.extended_at,
                        episode = excluded.episode,
                        contacts = excluded.contacts, last_delivery = excluded.last_delivery,
                        stopped_at = excluded.stopped_at, stop_reason = excluded.stop_reason
                    """,
                    client, program.number, program.startedAt.microseconds, program.anchoredAt.microseconds,
                    program.episode, program.contacts, program.lastDelivery.microseconds,
                    program.stoppedAt?.microseconds, program.stopReason)
                record.programs.append((client, change))
            case .contact(let contact):
                try write(contact, client: client)
            case .action(let action):
                try write(action, client: client)
            case .absenceDue(let due):
                absenceDue = .some(due)
            }
        }
        try insert(&planned, client: client)
        if let first = checkIns.first {
            var entry = ClientIndex.Entry(
                client: client, first: first.at.microseconds, last: first.at.microseconds, events: 0)
            for checkIn in checkIns { entry.add(checkIn.at.microseconds) }
            (entry.score, entry.tier, entry.scoredAt) = (
                latest?.score.score, latest?.score.tier.rawValue, latest?.at.microseconds
            )
            (entry.setsAbsenceDue, entry.absenceDue) = (absenceDue != nil, absenceDue??.microseconds)
            indexed.append(entry)
            return
        }
        guard latest != nil || absenceDue != nil else { return }
        clientRows.append(
            ClientScoreRow(
                client: client, score: latest?.score.score, tier: latest?.score.tier.rawValue,
                scoredAt: latest?.at.microseconds, setsAbsenceDue: absenceDue != nil,
                absenceDue: absenceDue??.microseconds))
    }

    /// Inserts the tasks `planned` (each unless already there) and empties it; those inserted are
    /// recorded, and counted for the client's episode change.
    private mutating func insert(
        _ planned: inout [(task: PlannedTask, score: Double, reasons: [TaskReason])], client: String
    ) throws {
        guard !planned.isEmpty else { return }
        var insertions: [TaskLedger.Insertion] = []
        insertions.reserveCapacity(planned.count)
        for (task, score, reasons) in planned {
            insertions.append(
                TaskLedger.Insertion(
                    task: task, score: score, reasons: text(of: reasons), about: nil,
                    plan: task.plan.map { JSONOutput.text($0) }))
        }
        var inserted = try TaskLedger.insert(insertions, at: now, session: session)
        for (task, score, _) in planned where inserted.remove(task.id) != nil {
            record.planned.append((task, score))
            if let last = record.changes.indices.last, record.changes[last].client == client {
                record.changes[last].tasks += 1
            }
        }
        planned = []
    }

    /// `notice_pending` for a task that ends now: set when it was delivered at least once, so its
    /// channel hears that it ended (an integer expression, as both backends store the flag).
    static var noticeIfDelivered: String { "CASE WHEN attempts > 0 THEN 1 ELSE 0 END" }

    /// Cancels an open task with `reason` (kept as history; a delivered one gets its end announced).
    /// Returns whether it was open.
    private func cancel(_ task: String, reason: String) throws -> Bool {
        try session.execute(
            """
            UPDATE tasks SET state = 'cancelled', cancel_reason = ?, resolved_at = ?, lease_token = NULL,
                notice_pending = \(Self.noticeIfDelivered), renew_at = NULL
            WHERE id = ? AND state IN \(TaskState.openList)
            """, reason, now.microseconds, task) == 1
    }

    /// `reasons` as stored with a task. A rise's tasks share one list: it is encoded once (the
    /// comparison is cheap, the arrays being the same buffer).
    private mutating func text(of reasons: [TaskReason]) -> String {
        if let encoded = encodedReasons, encoded.reasons == reasons { return encoded.text }
        let text = JSONOutput.text(reasons)
        encodedReasons = (reasons, text)
        return text
    }

    private mutating func write(_ change: EpisodeChange, client: String) throws {
        switch change {
        case .opened(let episode), .raised(let episode):
            try session.execute(
                """
                INSERT INTO episodes(client, number, tier, opened_at, held_until, domains) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(client, number) DO UPDATE
                    SET tier = excluded.tier, held_until = excluded.held_until, domains = excluded.domains
                """,
                client, episode.number, episode.tier.rawValue, episode.openedAt.microseconds,
                episode.heldUntil.microseconds, episode.domainsText)
            record.changes.append((client, episode, change == .opened(episode), 0))
        case .closed(let episode):
            try session.execute(
                """
                UPDATE episodes SET closed_at = ?, watch_until = ?
                WHERE client = ? AND number = ? AND closed_at IS NULL
                """, now.microseconds, episode.watchUntil?.microseconds, client, episode.number)
        case .released(let episode):
            try session.execute(
                "UPDATE episodes SET held_until = ? WHERE client = ? AND number = ?",
                episode.heldUntil.microseconds, client, episode.number)
        }
    }

    private mutating func write(_ contact: ContactResult, client: String) throws {
        defer { record.contacts.append((client, contact)) }
        guard let task = contact.task else { return }
        if contact.resolved {
            try session.execute(
                """
                UPDATE tasks SET state = 'resolved', resolved_at = ?, resolved_by = ?, acted_by = ?,
                    contact_attempts = contact_attempts + 1, notice_pending = \(Self.noticeIfDelivered),
                    renew_at = NULL, lease_token = NULL
                WHERE id = ? AND state IN \(TaskState.actionableList)
                """, now.microseconds, "contact \(contact.event)", contact.by, task)
        } else {
            try session.execute("UPDATE tasks SET contact_attempts = contact_attempts + 1 WHERE id = ?", task)
        }
    }
}

extension EffectWriter {
    /// A `take` records who is on the task while it is open; an `ack` resolves it from any open or
    /// dead state. Either only on the client's own task: an event naming another client's task, or
    /// one already closed, changes nothing (the event stays as the record of the attempt).
    fileprivate mutating func write(_ action: TaskAction, client: String) throws {
        let changed: Int
        if action.resolves {
            changed = try session.execute(
                """
                UPDATE tasks SET state = 'resolved', resolved_at = ?, resolved_by = ?, acted_by = ?,
                    lease_token = NULL, notice_pending = \(Self.noticeIfDelivered), renew_at = NULL
                WHERE id = ? AND client = ? AND state IN \(TaskState.actionableList)
                """, now.microseconds, "ack \(action.event)", action.by, action.task, client)
        } else {
            changed = try session.execute(
                """
                UPDATE tasks SET taken_by = ?, taken_at = ?
                WHERE id = ? AND client = ? AND state IN \(TaskState.openList)
                """, action.by, now.microseconds, action.task, client)
        }
        record.actions.append((client, action, changed == 1))
    }
}

/// A check-in's row in `evaluations`.
private struct EvaluationRow: SQLRow {
    let seq: Int64
    let fired: String
    let score: Double
    let tier: String
    let ruleset: Int64
    let ended: String?

    var width: Int { 6 }

    func bind(to statement: inout some SessionStatement) {
        statement.bind(seq)
        statement.bind(fired)
        statement.bind(score)
        statement.bind(tier)
        statement.bind(ruleset)
        statement.bind(ended)
    }
}

/// A client's latest score (nil when the commit observed none) and its next absence deadline
/// (kept unless `setsAbsenceDue`), for the update of its row in `clients`.
private struct ClientScoreRow: SQLRow {
    let client: String
    let score: Double?
    let tier: String?
    let scoredAt: Int64?
    let setsAbsenceDue: Bool
    let absenceDue: Int64?

    var width: Int { 6 }

    func bind(to statement: inout some SessionStatement) {
        statement.bind(client)
        statement.bind(score)
        statement.bind(tier)
        statement.bind(scoredAt)
        statement.bind(setsAbsenceDue)
        statement.bind(absenceDue)
    }
}

/// What one transaction's decisions changed, logged once it commits.
struct DecisionRecord: Sendable {
    var silences: [(client: String, decision: SilenceDecision)] = []
    var changes: [(client: String, episode: Episode, opened: Bool, tasks: Int)] = []
    var planned: [(task: PlannedTask, score: Double)] = []
    var superseded: [(client: String, task: String, by: Tier)] = []
    var contacts: [(client: String, contact: ContactResult)] = []
    var ended: [(client: String, task: String, end: TaskEnd)] = []
    var programs: [(client: String, change: ProgramChange)] = []
    /// Takes and acks, and whether each applied to an open task of the client.
    var actions: [(client: String, action: TaskAction, applied: Bool)] = []

    /// Whether a task was enqueued that is to be delivered by `now` (the notifier should look now).
    func deliversBy(_ now: Timestamp) -> Bool { planned.contains { $0.task.deliverAt <= now } }
}
