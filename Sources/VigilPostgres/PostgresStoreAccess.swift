import Foundation
import Logging
import NIOCore
import VigilCore
import VigilShell

/// The commands that read or operate on a PostgreSQL store (`vigil queue`, `vigil client list`
/// and `show`, `vigil api`): the same statements as on SQLite (`QueueOperations`, `StoreViews`),
/// each in one bounded transaction on a connection of its own.
public final class PostgresStoreAccess: QueueOperator, StoreViews, @unchecked Sendable {
    let store: PostgresEventStore
    /// One transaction at a time on the connection.
    private let serial = NSLock()

    /// Opens a connection once the schema is checked to be this build's (a store `vigil serve` or
    /// `vigil notify` has migrated), so a wrong database is named rather than queried.
    /// `timeout` bounds each transaction (a long report or replay may need more than the 20 s a
    /// command or a view gets).
    public init(target: PostgresTarget, logger: Logger, timeout: TimeAmount = .seconds(20)) throws(StoreError) {
        store = PostgresEventStore(target: target, stages: [], logger: logger, timeout: timeout)
        let version = try store.transaction("cannot read the schema's version") { session in
            try session.fetchOne(
                "SELECT CASE WHEN to_regclass('vigil_migrations') IS NULL THEN 0 ELSE 1 END"
            ) { $0.int64(0) }
        }
        let newest =
            version == 1
            ? try store.transaction("cannot read the schema's version") { session in
                try session.fetchOne("SELECT coalesce(max(version), 0) FROM vigil_migrations") { $0.int64(0) }
            } : 0
        guard newest == Int64(PostgresSchema.current) else {
            store.close()
            throw StoreError(
                path: target.description,
                problem: newest == 0
                    ? "no Vigil store in this database: has `vigil serve`, `vigil notify` or `vigil store migrate` run on it?"
                    : "its schema is version \(newest ?? 0), this Vigil's is \(PostgresSchema.current): upgrade the older",
                exitStatus: .unavailable)
        }
    }

    deinit { store.close() }

    public func list(states: Set<TaskState>?, client: String?, limit: Int) throws -> [TaskRecord] {
        try perform("cannot list the tasks") {
            try QueueOperations.list(states: states, client: client, limit: limit, session: $0)
        }
    }

    public func show(_ id: String) throws -> TaskRecord {
        try perform("cannot read the task") { try QueueOperations.show(id, session: $0) }
    }

    public func retryNow(_ id: String, at now: Timestamp) throws {
        try perform("cannot retry the task") { try QueueOperations.retryNow(id, at: now, session: $0) }
    }

    public func cancel(_ id: String, reason: String, at now: Timestamp) throws {
        try perform("cannot cancel the task") { try QueueOperations.cancel(id, reason: reason, at: now, session: $0) }
    }

    /// One read-only transaction at `REPEATABLE READ` (every statement sees the same snapshot, as a
    /// SQLite read does); one at a time on the connection (the API reads from concurrent requests).
    public func viewing<T>(_ doing: String, _ body: (any StoreSession) throws -> T) throws(StoreError) -> T {
        serial.lock()
        defer { serial.unlock() }
        return try store.transaction(doing) { session in
            try session.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return try body(session)
        }
    }

    /// The check-ins stored (`vigil bench e2e` waits for its nodes by them).
    public func events() throws(StoreError) -> Int { try status().events }

    /// `body` in one transaction; a refusal (`QueueError`) passes through as itself.
    private func perform<T>(_ doing: String, _ body: (PostgresSession) throws -> T) throws -> T {
        try serial.withLock {
            try store.transaction(doing) { session -> Result<T, QueueError> in
                do {
                    return .success(try body(session))
                } catch let refusal as QueueError {
                    return .failure(refusal)
                }
            }.get()
        }
    }
}

extension StoreViewsOpening {
    /// The configured store's views: SQLite (`StoreViewsOpening.sqlite`) or PostgreSQL, whose schema
    /// must be this build's.
    public static let configured: Opening = opening(within: .seconds(20))

    /// The same for a read of the whole history (`vigil report`, `vigil replay`): each transaction
    /// bounded by 30 minutes instead of 20 s.
    public static let configuredForHistory: Opening = opening(within: .minutes(30))

    static func opening(within timeout: TimeAmount) -> Opening {
        { config, logger in
            guard case .postgres(let url, let passwordFile) = config.store else { return try sqlite(config, logger) }
            let target = try PostgresTarget(url: url, passwordFile: passwordFile)
            return { try PostgresStoreAccess(target: target, logger: logger, timeout: timeout) }
        }
    }
}
