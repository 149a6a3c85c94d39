import GRDB
import VigilCore

/// A `vigil queue` action that does not apply to the task's state, or names no task.
public struct QueueError: ExitStatusProviding, CustomStringConvertible, Sendable {
    public let problem: String
    public let exitStatus: ExitStatus
    public var description: String { problem }
}

/// What operators do by hand (`vigil queue …`): look, retry, cancel. Taking and acknowledging are
/// events handed to the daemon (`TaskActionRequest`).
extension TaskQueue {
    /// Tasks in queue order, optionally only in `states` and of one client.
    public func list(states: Set<TaskState>?, client: String?, limit: Int) throws(StoreError) -> [TaskRecord] {
        var conditions = ["1"]
        var arguments: StatementArguments = []
        if let states {
            let names = TaskState.allCases.filter(states.contains).map(\.rawValue)
            conditions.append("state IN (" + names.map { _ in "?" }.joined(separator: ", ") + ")")
            _ = arguments.append(contentsOf: StatementArguments(names))
        }
        if let client {
            conditions.append("client = ?")
            _ = arguments.append(contentsOf: [client])
        }
        _ = arguments.append(contentsOf: [limit])
        let condition = conditions.joined(separator: " AND ") + " ORDER BY seq LIMIT ?"
        return try store.read { db in try TaskRecord.fetchAll(db, where: condition, arguments: arguments) }
    }

    public func show(_ id: String) throws -> TaskRecord {
        guard let task = try store.read({ db in try TaskRecord.fetchAll(db, where: "id = ?", arguments: [id]).first })
        else { throw QueueError(problem: "no task \(id) (see `vigil queue list`)", exitStatus: .noInput) }
        return task
    }

    /// Tries a dead (or waiting) task again now, with a fresh max age.
    public func retryNow(_ id: String, at now: Timestamp) throws {
        try transition(id, from: [.dead, .pending], verb: "retry") { db in
            try db.execute(
                sql: """
                    UPDATE tasks SET state = 'pending', next_attempt_at = ?, first_attempt_at = NULL, dead_at = NULL,
                        lease_token = NULL
                    WHERE id = ?
                    """, arguments: [now.microseconds, id])
        }
    }

    /// Withdraws a task, with the reason a person gave.
    public func cancel(_ id: String, reason: String, at now: Timestamp) throws {
        try transition(id, from: [.pending, .claimed, .delivered, .dead], verb: "cancel") { db in
            try db.execute(
                sql: """
                    UPDATE tasks SET state = 'cancelled', cancel_reason = ?, resolved_at = ?, lease_token = NULL,
                        notice_pending = (attempts > 0), renew_at = NULL
                    WHERE id = ?
                    """, arguments: [reason, now.microseconds, id])
        }
    }

    private func transition(
        _ id: String, from states: Set<TaskState>, verb: String, _ change: (Database) throws -> Void
    ) throws {
        let refusal: QueueError? = try store.write { db in
            guard let raw = try String.fetchOne(db, sql: "SELECT state FROM tasks WHERE id = ?", arguments: [id]) else {
                return QueueError(problem: "no task \(id) (see `vigil queue list`)", exitStatus: .noInput)
            }
            guard let state = TaskState(rawValue: raw), states.contains(state) else {
                let allowed = TaskState.allCases.filter(states.contains).map(\.rawValue).joined(separator: ", ")
                return QueueError(
                    problem: "cannot \(verb) task \(id): it is \(raw) (only \(allowed) tasks)", exitStatus: .dataError)
            }
            try change(db)
            return nil
        }
        if let refusal { throw refusal }
    }
}
