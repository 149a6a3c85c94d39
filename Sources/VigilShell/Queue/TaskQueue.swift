import Foundation
import GRDB
import VigilCore

/// The durable task queue as the notifier works it (Postfix's queue discipline: every state is a
/// row, nothing is only in memory). A task is claimed with a lease; the notifier that holds the
/// lease records the outcome, and a task whose lease ran out (its notifier died) is claimed again
/// and redelivered under the same id, which receivers use as the idempotency key.
public struct TaskQueue: DeliveryQueue {
    let store: EventStore

    public init(store: EventStore) { self.store = store }

    /// Claims up to `limit` tasks due for delivery by `now`, each under a fresh lease token until
    /// `leaseUntil` (by the real clock, even under `--as-of`, so a running notifier honours it).
    /// Tasks this process is still delivering (`inFlight`) are never claimed again. `admit` is
    /// asked, in queue order, about each task that would be claimed next; a task it refuses (its
    /// receiver is saturated) stays as it is and the next is considered, looking at most `skipping`
    /// refused tasks past what the claim needs.
    public func claim(
        dueBy now: Timestamp, leaseUntil: Timestamp, limit: Int, excluding inFlight: Set<String>,
        skipping: Int = 0, admit: (ClaimCandidate) -> ClaimAdmission = { _ in .take }
    )
        throws(StoreError) -> [TaskRecord]
    {
        try store.write { db in
            let update = try db.cachedStatement(
                sql: """
                    UPDATE tasks SET state = 'claimed', lease_token = ?, next_attempt_at = ?, attempts = attempts + 1,
                        first_attempt_at = coalesce(first_attempt_at, ?)
                    WHERE id = ?
                    """)
            var chosen: [String] = []
            var considered: Set<String> = []
            // Escalations first, then everything in queue order. Chosen first, updated after: a
            // cursor is not stepped again once its rows change. A candidate is read with only what
            // admission needs: up to `skipping` of them are looked at past a saturated receiver.
            var full = false
            for condition in [Self.claimableEscalations, Self.claimable] where chosen.count < limit && !full {
                let due = try Row.fetchCursor(
                    db, sql: "SELECT id, kind, tier, route, slot FROM tasks WHERE \(condition)",
                    arguments: [now.microseconds, limit + inFlight.count + skipping + considered.count])
                while chosen.count < limit, !full, let row = try due.next() {
                    let candidate = ClaimCandidate(row: row)
                    guard considered.insert(candidate.id).inserted, !inFlight.contains(candidate.id) else { continue }
                    switch admit(candidate) {
                    case .take: chosen.append(candidate.id)
                    case .skip: continue
                    case .stop: full = true
                    }
                }
            }
            var claimed: [TaskRecord] = []
            for id in chosen {
                guard var task = try TaskRecord.fetchAll(db, where: "id = ?", arguments: [id]).first else { continue }
                task.state = .claimed
                task.leaseToken = UUID().uuidString
                task.attempts += 1
                task.firstAttemptAt = task.firstAttemptAt ?? now
                try update.execute(arguments: [task.leaseToken, leaseUntil.microseconds, now.microseconds, task.id])
                claimed.append(task)
            }
            return claimed
        }
    }

    /// Records a delivery. False when the lease was lost: then nothing is changed, except that a
    /// task resolved or cancelled while it was being delivered records where it went, so that its
    /// channel hears that it ended.
    @discardableResult
    public func delivered(_ task: TaskRecord, channel: String, at now: Timestamp, renewAt: Timestamp?)
        throws(StoreError)
        -> Bool
    {
        try store.write { db in
            try db.execute(
                sql: """
                    UPDATE tasks SET state = 'delivered', delivered_at = ?, channel = ?, last_error = NULL,
                        lease_token = NULL, renew_at = ?
                    WHERE id = ? AND state = 'claimed' AND lease_token = ?
                    """,
                arguments: [now.microseconds, channel, renewAt?.microseconds, task.id, task.leaseToken])
            if db.changesCount == 1 { return true }
            try db.execute(
                sql: """
                    UPDATE tasks SET delivered_at = ?, channel = ?, notice_pending = 1
                    WHERE id = ? AND state IN ('resolved', 'cancelled') AND delivered_at IS NULL
                    """,
                arguments: [now.microseconds, channel, task.id])
            return false
        }
    }

    /// Records a failed attempt to be tried again at `next`.
    @discardableResult
    public func retry(_ task: TaskRecord, channel: String, error: String, next: Timestamp) throws(StoreError) -> Bool {
        try store.write { db in
            try db.execute(
                sql: """
                    UPDATE tasks SET state = 'pending', next_attempt_at = ?, last_error = ?, channel = ?, lease_token = NULL
                    WHERE id = ? AND state = 'claimed' AND lease_token = ?
                    """,
                arguments: [next.microseconds, error, channel, task.id, task.leaseToken])
            return db.changesCount == 1
        }
    }

    /// Marks a task dead. For an escalation or an overdue escalation (not already a fallback), a
    /// fallback task for the fallback channel is enqueued in the same transaction and returned, so
    /// an escalation is never silently dropped.
    public func dead(_ task: TaskRecord, channel: String, error: String, at now: Timestamp) throws(StoreError)
        -> (recorded: Bool, fallback: String?)
    {
        try store.write { db in
            try db.execute(
                sql: """
                    UPDATE tasks SET state = 'dead', dead_at = ?, last_error = ?, channel = ?, lease_token = NULL
                    WHERE id = ? AND state = 'claimed' AND lease_token = ?
                    """,
                arguments: [now.microseconds, error, channel, task.id, task.leaseToken])
            guard db.changesCount == 1 else { return (false, nil) }
            guard task.kind == .escalation || task.kind == .overdue, !task.isFallback else { return (true, nil) }
            // One fallback per death: an escalation retried by hand that dies again falls back again.
            let earlier =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM tasks WHERE about = ? AND slot LIKE ?",
                    arguments: [task.id, TaskRecord.fallbackPrefix + "%"]) ?? 0
            let fallback = task.fallback(after: earlier, at: now)
            let inserted = try TaskLedger.insert(
                fallback, score: task.score, reasons: JSONOutput.text(task.reasons), about: task.id, at: now,
                session: SQLiteSession(db))
            return (true, inserted ? fallback.id : nil)
        }
    }

    /// Raises one `overdue` escalation, routed to `route`, for each outreach task still open `grace`
    /// after its due time, and at once for each dead one (its channel failed: nobody was asked to
    /// act). Each task is escalated at most once. Returns the overdue tasks enqueued.
    public func raiseOverdue(at now: Timestamp, grace: TimeSpan, route: String) throws(StoreError) -> [PlannedTask] {
        try store.write { db in
            let late = try TaskRecord.fetchAll(
                db, where: Self.lateOutreach,
                arguments: [now.adding(TimeSpan(microseconds: -grace.microseconds)).microseconds])
            let lateIDs = Set(late.map(\.id))
            let dead = try TaskRecord.fetchAll(db, where: Self.deadOutreach).filter { !lateIDs.contains($0.id) }
            var raised: [PlannedTask] = []
            for task in late + dead {
                let overdue = task.overdueEscalation(route: route, at: now)
                try TaskLedger.insert(
                    overdue, score: task.score, reasons: JSONOutput.text(task.reasons), about: task.id, at: now,
                    session: SQLiteSession(db))
                try db.execute(sql: "UPDATE tasks SET overdue_raised = 1 WHERE id = ?", arguments: [task.id])
                raised.append(overdue)
            }
            return raised
        }
    }

    /// Tasks resolved or cancelled after delivery whose channel has not yet heard that they ended.
    public func pendingNotices(limit: Int) throws(StoreError) -> [TaskRecord] {
        try store.write { db in
            try TaskRecord.fetchAll(db, where: Self.notices, arguments: [limit])
        }
    }

    public func noticeSent(_ id: String) throws(StoreError) {
        try store.write { db in
            try db.execute(sql: "UPDATE tasks SET notice_pending = 0 WHERE id = ?", arguments: [id])
        }
    }

    /// Delivered tasks whose alert must be re-sent by `now` to stay active (Alertmanager).
    public func dueRenewals(at now: Timestamp, limit: Int) throws(StoreError) -> [TaskRecord] {
        try store.write { db in
            try TaskRecord.fetchAll(db, where: Self.renewals, arguments: [now.microseconds, limit])
        }
    }

    public func renewed(_ id: String, next: Timestamp) throws(StoreError) {
        try store.write { db in
            try db.execute(sql: "UPDATE tasks SET renew_at = ? WHERE id = ?", arguments: [next.microseconds, id])
        }
    }
}

extension TaskRecord {
    /// The fallback of this dead escalation, delivered now to the fallback channel; `earlier` is
    /// how many it already had (an escalation retried by hand that dies again falls back again).
    package func fallback(after earlier: Int, at now: Timestamp) -> PlannedTask {
        let slot = Self.fallbackPrefix + id + (earlier == 0 ? "" : ":\(earlier + 1)")
        return PlannedTask(
            client: client, episode: episode, slot: slot, kind: kind, tier: tier, route: route,
            instruction: instruction, deliverAt: now, due: due)
    }

    /// The `overdue` escalation of this outreach task (still open past its due time and grace, or
    /// dead), raised now and routed to `route`.
    package func overdueEscalation(route: String, at now: Timestamp) -> PlannedTask {
        let still = state == .dead ? "could not be delivered (\(lastError ?? "dead"))" : "is still open"
        return PlannedTask(
            client: client, episode: episode, slot: Self.overduePrefix + id, kind: .overdue, tier: tier, route: route,
            instruction:
                "The \(kind.rawValue.replacingOccurrences(of: "_", with: " ")) due \(due) (task \(id)) \(still): reach the client now or reassign it; record a contact event or run `vigil queue ack \(id)`.",
            deliverAt: now, due: now)
    }
}

/// The conditions of the queries the notifier runs every poll or second, each served by a partial
/// index of the schema (`QueryPlanTests` checks that none scans the queue). SQLite uses a partial
/// index only when the query repeats the index's terms exactly: keep these in step with `Schema`.
extension TaskQueue {
    /// Escalations (and overdue escalations) due to be claimed, looked at first, so that a
    /// receiver's backlog of outreach never hides one (`tasks_claimable_escalations`).
    package static let claimableEscalations = """
        state IN ('pending', 'claimed') AND kind IN ('escalation', 'overdue') AND next_attempt_at <= ?
        ORDER BY next_attempt_at, seq LIMIT ?
        """
    /// Tasks due to be claimed (`tasks_claimable`).
    package static let claimable =
        "state IN ('pending', 'claimed') AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?"
    /// Outreach tasks past due and grace, not yet escalated (`tasks_open_outreach`).
    package static let lateOutreach = """
        kind IN \(TaskKind.outreachList) AND state IN ('pending', 'claimed', 'delivered', 'dead')
        AND overdue_raised = 0 AND due <= ? ORDER BY due LIMIT 500
        """
    /// Dead outreach tasks not yet escalated, whatever their due time (`tasks_dead_outreach`).
    package static let deadOutreach = """
        state = 'dead' AND overdue_raised = 0 AND kind IN \(TaskKind.outreachList) ORDER BY due LIMIT 500
        """
    /// Ended tasks whose channel has not heard (`tasks_notices`).
    package static let notices = "notice_pending = 1 ORDER BY seq LIMIT ?"
    /// Alerts to re-send (`tasks_renewals`).
    package static let renewals = "renew_at <= ? AND state = 'delivered' ORDER BY renew_at LIMIT ?"
}
