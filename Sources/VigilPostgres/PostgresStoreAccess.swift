import Logging
import VigilCore
import VigilShell

/// The commands that read or operate on a PostgreSQL store (`vigil queue`, `vigil client list`
/// and `show`): the same statements as on SQLite (`QueueOperations`, `CaseloadLine.read`,
/// `ClientReport.read`), each in one bounded transaction on a connection of its own.
public final class PostgresStoreAccess: QueueOperator {
    let store: PostgresEventStore

    /// Opens a connection once the schema is checked to be this build's (a store `vigil serve` or
    /// `vigil notify` has migrated), so a wrong database is named rather than queried.
    public init(target: PostgresTarget, logger: Logger) throws(StoreError) {
        store = PostgresEventStore(target: target, stages: [], logger: logger)
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

    /// The report on `client` at `now` (see `EventStore.clientReport`); nil when it has no event.
    public func clientReport(client: String, at now: Timestamp, recent: Int = 10) throws(StoreError) -> ClientReport? {
        try store.transaction("cannot read the client") { session in
            try ClientReport.read(client: client, at: now, recent: recent, session: session)
        }
    }

    /// The caseload at `now` (see `EventStore.caseload`).
    public func caseload(at now: Timestamp, minimum: Tier = .low, watchOnly: Bool = false) throws(StoreError)
        -> [CaseloadLine]
    {
        try store.transaction("cannot read the caseload") { session in
            try CaseloadLine.read(at: now, minimum: minimum, watchOnly: watchOnly, session: session)
        }
    }

    /// The check-ins stored (`vigil bench e2e` waits for its nodes by them).
    public func events() throws(StoreError) -> Int {
        try store.transaction("cannot count the events") { session in
            Int(try session.fetchOne("SELECT count(*) FROM events") { $0.int64(0) } ?? 0)
        }
    }

    /// `body` in one transaction; a refusal (`QueueError`) passes through as itself.
    private func perform<T>(_ doing: String, _ body: (PostgresSession) throws -> T) throws -> T {
        try store.transaction(doing) { session -> Result<T, QueueError> in
            do {
                return .success(try body(session))
            } catch let refusal as QueueError {
                return .failure(refusal)
            }
        }.get()
    }
}
