import Foundation
import GRDB
import VigilCore

/// Inserts tasks into the queue: planned tasks (the decision core's effects), a refused crisis's
/// supervisors' task, fallbacks and overdue escalations.
enum TaskLedger {
    /// Inserts a task unless its id (or its client, episode and slot) is already there; returns
    /// whether it did.
    @discardableResult
    static func insert(
        _ task: PlannedTask, score: Double, reasons: String, about: String?, plan: String? = nil, at now: Timestamp,
        session: some StoreSession
    ) throws -> Bool {
        try !insert(
            [Insertion(task: task, score: score, reasons: reasons, about: about, plan: plan)], at: now,
            session: session
        ).isEmpty
    }

    /// A task to insert, with what is stored beside it.
    struct Insertion {
        let task: PlannedTask
        let score: Double
        let reasons: String
        let about: String?
        let plan: String?
    }

    /// A task's row as `insert` binds it: a pending task created at `createdAt`, first attempted
    /// when it is to be delivered.
    private struct TaskRow: SQLRow {
        let insertion: Insertion
        let createdAt: Int64

        var width: Int { 16 }

        func bind(to statement: inout some SessionStatement) {
            let task = insertion.task
            statement.bind(task.id)
            statement.bind(task.client)
            statement.bind(task.episode)
            statement.bind(task.slot)
            statement.bind(task.kind.rawValue)
            statement.bind(task.tier.rawValue)
            statement.bind(insertion.score)
            statement.bind(task.route)
            statement.bind(task.instruction)
            statement.bind(insertion.reasons)
            statement.bind(insertion.about)
            statement.bind(createdAt)
            statement.bind(task.deliverAt.microseconds)
            statement.bind(task.due.microseconds)
            statement.bind(task.deliverAt.microseconds)
            statement.bind(insertion.plan)
        }
    }

    /// Inserts each task unless its id (or its client, episode and slot) is already there, in one
    /// statement on PostgreSQL (a rise plans several); returns the ids inserted.
    static func insert(_ insertions: [Insertion], at now: Timestamp, session: some StoreSession) throws -> Set<String> {
        var inserted: Set<String> = []
        try session.runMany(
            """
            INSERT INTO tasks(id, client, episode, slot, kind, tier, score, route, instruction, reasons, about,
                created_at, deliver_at, due, state, next_attempt_at, plan)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
            ON CONFLICT DO NOTHING RETURNING id
            """,
            rows: insertions.map { TaskRow(insertion: $0, createdAt: now.microseconds) }
        ) { row in
            if let id = row.text(0) { inserted.insert(id) }
        }
        return inserted
    }
}

extension TaskKind {
    /// The outreach kinds as an SQL list: `('caring_contact', 'follow_up', 'peer_checkin')`.
    static let outreachList = sqlList(allCases.filter(\.isOutreach).map(\.rawValue))
}

extension TaskState {
    /// The open states as an SQL list: `('pending', 'claimed', 'delivered')`.
    static let openList = sqlList(allCases.filter(\.isOpen).map(\.rawValue))
    /// The states a person may still act on: open, or dead (every delivery failed).
    static let actionableList = sqlList(allCases.filter { $0.isOpen || $0 == .dead }.map(\.rawValue))
}

/// Names (never user input) as a parenthesised SQL list of string literals.
private func sqlList(_ names: [String]) -> String { "(" + names.map { "'\($0)'" }.joined(separator: ", ") + ")" }
