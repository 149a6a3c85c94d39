import Foundation
import GRDB
import VigilCore

/// What planning wrote in one transaction, logged once it commits.
struct PlanningRecord: Sendable {
    var changes: [(client: String, episode: Episode, opened: Bool, tasks: Int)] = []
    var escalations: [(task: PlannedTask, score: Double)] = []
    var contacts: [(client: String, task: String?, outcome: CheckIn.Contact.Outcome, resolved: Bool)] = []
}

/// Writes response planning into the store, inside the transaction that stores the events (or
/// absences) that caused it: episodes, tasks, and contacts that resolve outreach tasks.
enum TaskLedger {
    /// The client's episode state as stored: its latest episode, open or not.
    static func cursor(client: String, db: Database) throws -> EpisodeCursor {
        guard
            let row = try Row.fetchOne(
                db,
                sql:
                    "SELECT number, tier, opened_at, closed_at FROM episodes WHERE client = ? ORDER BY number DESC LIMIT 1",
                arguments: [client])
        else { return EpisodeCursor() }
        let number: Int = row["number"]
        guard row["closed_at"] as Int64? == nil, let tier = Tier(rawValue: row["tier"]) else {
            return EpisodeCursor(open: nil, lastNumber: number)
        }
        return EpisodeCursor(
            open: Episode(number: number, tier: tier, openedAt: Timestamp(microseconds: row["opened_at"])),
            lastNumber: number)
    }

    /// Stores one episode step of `client` and its tasks (each at most once, by id).
    static func record(
        _ step: EpisodeStep, client: String, score: Double, reasons: [TaskReason], at now: Timestamp, db: Database,
        into log: inout PlanningRecord
    ) throws {
        if let closed = step.closed {
            try db.execute(
                sql: "UPDATE episodes SET closed_at = ? WHERE client = ? AND number = ? AND closed_at IS NULL",
                arguments: [now.microseconds, client, closed.number])
        }
        guard let episode = step.changed else { return }
        try db.execute(
            sql: """
                INSERT INTO episodes(client, number, tier, opened_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(client, number) DO UPDATE SET tier = excluded.tier
                """,
            arguments: [client, episode.number, episode.tier.rawValue, episode.openedAt.microseconds])
        let reasonsText = JSONOutput.text(reasons)
        var inserted = 0
        for task in step.tasks {
            try insert(task, score: score, reasons: reasonsText, about: nil, at: now, db: db)
            guard db.changesCount == 1 else { continue }
            inserted += 1
            if task.kind == .escalation { log.escalations.append((task, score)) }
        }
        log.changes.append((client, episode, step.opened, inserted))
    }

    /// Inserts a task unless its id (or its client, episode and slot) is already there.
    static func insert(
        _ task: PlannedTask, score: Double, reasons: String, about: String?, at now: Timestamp, db: Database
    ) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO tasks(id, client, episode, slot, kind, tier, score, route, instruction, reasons, about,
                    created_at, deliver_at, due, state, next_attempt_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)
                ON CONFLICT DO NOTHING
                """)
        try statement.execute(arguments: [
            task.id, task.client, task.episode, task.slot, task.kind.rawValue, task.tier.rawValue, score, task.route,
            task.instruction, reasons, about, now.microseconds, task.deliverAt.microseconds, task.due.microseconds,
            task.deliverAt.microseconds,
        ])
    }

    /// Applies a `contact` event: `reached` resolves the open outreach task it names, or else the
    /// client's earliest due open caring contact or follow-up that existed when the contact was made;
    /// any other outcome counts as an attempt on that task. (A contact observed before a task was
    /// enqueued, give or take the 5 minutes of clock skew check-ins may have, did not answer it.)
    static func applyContact(
        _ contact: CheckIn.Contact, client: String, event: String, observedAt: Timestamp, at now: Timestamp,
        db: Database, into log: inout PlanningRecord
    ) throws {
        let target: String?
        if let named = contact.task {
            target = try String.fetchOne(
                db,
                sql: """
                    SELECT id FROM tasks WHERE id = ? AND client = ? AND state IN \(TaskState.openList)
                    AND kind IN \(TaskKind.outreachList)
                    """, arguments: [named, client])
        } else {
            target = try String.fetchOne(
                db,
                sql: """
                    SELECT id FROM tasks WHERE client = ? AND state IN \(TaskState.openList)
                    AND kind IN ('caring_contact', 'follow_up') AND created_at <= ? ORDER BY due, seq LIMIT 1
                    """, arguments: [client, observedAt.adding(.minutes(5)).microseconds])
        }
        guard let target else {
            log.contacts.append((client, contact.task, contact.outcome, false))
            return
        }
        if contact.outcome == .reached {
            try db.execute(
                sql: """
                    UPDATE tasks SET state = 'resolved', resolved_at = ?, resolved_by = ?,
                        contact_attempts = contact_attempts + 1, notice_pending = (attempts > 0), renew_at = NULL,
                        lease_token = NULL
                    WHERE id = ?
                    """,
                arguments: [now.microseconds, "contact \(event)", target])
        } else {
            try db.execute(
                sql: "UPDATE tasks SET contact_attempts = contact_attempts + 1 WHERE id = ?", arguments: [target])
        }
        log.contacts.append((client, target, contact.outcome, contact.outcome == .reached))
    }
}

extension TaskKind {
    /// The outreach kinds as an SQL list: `('caring_contact', 'follow_up', 'peer_checkin')`.
    static let outreachList = sqlList(allCases.filter(\.isOutreach).map(\.rawValue))
}

extension TaskState {
    /// The open states as an SQL list: `('pending', 'claimed', 'delivered')`.
    static let openList = sqlList(allCases.filter(\.isOpen).map(\.rawValue))
}

/// Names (never user input) as a parenthesised SQL list of string literals.
private func sqlList(_ names: [String]) -> String { "(" + names.map { "'\($0)'" }.joined(separator: ", ") + ")" }
