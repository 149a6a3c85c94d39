import GRDB
import VigilCore

/// A `vigil queue` action that does not apply to the task's state, or names no task.
public struct QueueError: ExitStatusProviding, CustomStringConvertible, Sendable {
    public let problem: String
    public let exitStatus: ExitStatus
    public var description: String { problem }

    static func noTask(_ id: String) -> QueueError {
        QueueError(problem: "no task \(id) (see `vigil queue list`)", exitStatus: .noInput)
    }
}

/// What operators do by hand (`vigil queue …`): look, retry, cancel, on either store. Taking and
/// acknowledging are events handed to the daemon (`TaskActionRequest`).
public protocol QueueOperator {
    /// Tasks in queue order, optionally only in `states` and of one client.
    func list(states: Set<TaskState>?, client: String?, limit: Int) throws -> [TaskRecord]
    func show(_ id: String) throws -> TaskRecord
    /// Tries a dead (or waiting) task again now, with a fresh max age.
    func retryNow(_ id: String, at now: Timestamp) throws
    /// Withdraws a task, with the reason a person gave.
    func cancel(_ id: String, reason: String, at now: Timestamp) throws
}

/// The operators' statements, the same on both stores (`TaskQueue` runs them on SQLite, VigilPostgres'
/// `PostgresQueueOperator` on PostgreSQL).
package enum QueueOperations {
    package static func list(states: Set<TaskState>?, client: String?, limit: Int, session: some StoreSession)
        throws -> [TaskRecord]
    {
        var conditions = ["1 = 1"]
        var values: [(any SQLBindable)?] = []
        if let states {
            let names = TaskState.allCases.filter(states.contains).map(\.rawValue)
            conditions.append("state IN (" + names.map { _ in "?" }.joined(separator: ", ") + ")")
            values += names
        }
        if let client {
            conditions.append("client = ?")
            values.append(client)
        }
        values.append(limit)
        let sql = "SELECT * FROM tasks WHERE " + conditions.joined(separator: " AND ") + " ORDER BY seq LIMIT ?"
        return try session.rows(sql, values).map(TaskRecord.init(row:))
    }

    package static func show(_ id: String, session: some StoreSession) throws -> TaskRecord {
        guard let row = try session.rows("SELECT * FROM tasks WHERE id = ?", [id]).first else {
            throw QueueError.noTask(id)
        }
        return TaskRecord(row: row)
    }

    package static func retryNow(_ id: String, at now: Timestamp, session: some StoreSession) throws {
        try transition(id, from: [.dead, .pending], verb: "retry", session: session)
        try session.execute(
            """
            UPDATE tasks SET state = 'pending', next_attempt_at = ?, first_attempt_at = NULL, dead_at = NULL,
                lease_token = NULL
            WHERE id = ?
            """, now.microseconds, id)
    }

    package static func cancel(_ id: String, reason: String, at now: Timestamp, session: some StoreSession) throws {
        try transition(id, from: [.pending, .claimed, .delivered, .dead], verb: "cancel", session: session)
        try session.execute(
            """
            UPDATE tasks SET state = 'cancelled', cancel_reason = ?, resolved_at = ?, lease_token = NULL,
                notice_pending = CASE WHEN attempts > 0 THEN 1 ELSE 0 END, renew_at = NULL
            WHERE id = ?
            """, reason, now.microseconds, id)
    }

    /// Throws unless the task is in one of `states`.
    private static func transition(_ id: String, from states: Set<TaskState>, verb: String, session: some StoreSession)
        throws
    {
        guard let raw = try session.fetchOne("SELECT state FROM tasks WHERE id = ?", id, read: { $0.text(0) }),
            let raw
        else { throw QueueError.noTask(id) }
        guard let state = TaskState(rawValue: raw), states.contains(state) else {
            let allowed = TaskState.allCases.filter(states.contains).map(\.rawValue).joined(separator: ", ")
            throw QueueError(
                problem: "cannot \(verb) task \(id): it is \(raw) (only \(allowed) tasks)", exitStatus: .dataError)
        }
    }
}

extension TaskQueue: QueueOperator {
    public func list(states: Set<TaskState>?, client: String?, limit: Int) throws -> [TaskRecord] {
        try perform(writing: false) {
            try QueueOperations.list(states: states, client: client, limit: limit, session: $0)
        }
    }

    public func show(_ id: String) throws -> TaskRecord {
        try perform(writing: false) { try QueueOperations.show(id, session: $0) }
    }

    public func retryNow(_ id: String, at now: Timestamp) throws {
        try perform(writing: true) { try QueueOperations.retryNow(id, at: now, session: $0) }
    }

    public func cancel(_ id: String, reason: String, at now: Timestamp) throws {
        try perform(writing: true) { try QueueOperations.cancel(id, reason: reason, at: now, session: $0) }
    }

    /// `body` in one transaction; a refusal (`QueueError`, raised before anything is changed) passes
    /// through as itself, a store failure as a `StoreError`.
    private func perform<T>(writing: Bool, _ body: (SQLiteSession) throws -> T) throws -> T {
        let work = { (db: Database) throws -> Result<T, QueueError> in
            do {
                return .success(try body(SQLiteSession(db)))
            } catch let refusal as QueueError {
                return .failure(refusal)
            }
        }
        return try (writing ? store.write(work) : store.read(work)).get()
    }
}
