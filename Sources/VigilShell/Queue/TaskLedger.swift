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
        // Bound one by one: every rise inserts several.
        var row = try session.statement(
            """
            INSERT INTO tasks(id, client, episode, slot, kind, tier, score, route, instruction, reasons, about,
                created_at, deliver_at, due, state, next_attempt_at, plan)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
            ON CONFLICT DO NOTHING
            """)
        row.bind(task.id)
        row.bind(task.client)
        row.bind(Int64(task.episode))
        row.bind(task.slot)
        row.bind(task.kind.rawValue)
        row.bind(task.tier.rawValue)
        row.bind(score)
        row.bind(task.route)
        row.bind(task.instruction)
        row.bind(reasons)
        row.bind(about)
        row.bind(now.microseconds)
        row.bind(task.deliverAt.microseconds)
        row.bind(task.due.microseconds)
        row.bind(task.deliverAt.microseconds)
        row.bind(plan)
        return try row.run() == 1
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
