import Logging
import VigilCore

/// The store as the views read it (`vigil api`, `vigil client`, `vigil status`): each view one
/// read transaction through a `StoreSession`, so the same statements serve SQLite (`EventStore`)
/// and PostgreSQL (VigilPostgres' `PostgresStoreAccess`).
public protocol StoreViews: Sendable {
    /// Runs `body` in one read-only transaction that sees one state of the store; a failure is a
    /// `StoreError` saying what was being done (`doing`).
    func viewing<T>(_ doing: String, _ body: (any StoreSession) throws -> T) throws(StoreError) -> T
}

extension StoreViews {
    /// The counts of `vigil status` and the daemon's STATUS= line.
    public func status() throws(StoreError) -> StoreStatus {
        try viewing("cannot read the counts") { try StoreStatus.read(session: $0) }
    }

    /// The figures behind `GET /metrics` at `now`.
    public func metrics(at now: Timestamp) throws(StoreError) -> MetricsSnapshot {
        try viewing("cannot read the metrics") { try MetricsSnapshot.read(at: now, session: $0) }
    }

    /// The open tasks matching `filter`, overdue first, then by due time.
    public func worklist(_ filter: WorklistFilter, at now: Timestamp) throws(StoreError) -> [WorklistEntry] {
        try viewing("cannot read the worklist") { try WorklistEntry.read(filter, at: now, session: $0) }
    }

    /// The task `id`, if there is one (for the API's actions: which client it is of, and its state).
    public func task(_ id: String) throws(StoreError) -> TaskRecord? {
        try viewing("cannot read the task") { session in
            try session.rows("SELECT * FROM tasks WHERE id = ?", [id]).first.map(TaskRecord.init(row:))
        }
    }

    /// Whether the client of task `task` has an event with this id (an action link already used):
    /// found through both tables' keys, never a scan of the events.
    public func hasEvent(_ id: String, ofClientOfTask task: String) throws(StoreError) -> Bool {
        try viewing("cannot read the events") { session in
            try session.fetchOne(
                """
                SELECT CASE WHEN EXISTS (
                    SELECT 1 FROM tasks t JOIN events e ON e.client = t.client AND e.id = ? WHERE t.id = ?
                ) THEN 1 ELSE 0 END
                """, id, task
            ) { $0.int64(0) } == 1
        }
    }

    /// The caseload at `now`, most urgent first (tier, then the earliest due open task), of the
    /// clients at `minimum` tier or above, and only those on the step-down watch when `watchOnly`.
    public func caseload(at now: Timestamp, minimum: Tier = .low, watchOnly: Bool = false) throws(StoreError)
        -> [CaseloadLine]
    {
        try viewing("cannot read the caseload") {
            try CaseloadLine.read(at: now, minimum: minimum, watchOnly: watchOnly, session: $0)
        }
    }

    /// The report on `client` at `now`, with its `recent` latest events; nil when the store has no
    /// event of that client. Tiers use the scoring policy of the rule set that evaluated its latest
    /// event, held at the open episode's tier as the daemon holds it.
    public func clientReport(client: String, at now: Timestamp, recent: Int = 10) throws(StoreError) -> ClientReport? {
        try viewing("cannot read the client") {
            try ClientReport.read(client: client, at: now, recent: recent, session: $0)
        }
    }
}

extension EventStore: StoreViews {
    public func viewing<T>(_ doing: String, _ body: (any StoreSession) throws -> T) throws(StoreError) -> T {
        do {
            return try queue.read { db in try body(SQLiteSession(db)) }
        } catch {
            throw StoreError(path: path, problem: "\(doing): \(error)")
        }
    }
}

/// How a command opens the configured store's views: `sqlite` (the state directory's file, read
/// only); VigilPostgres' `StoreViewsOpening.configured` also opens PostgreSQL. In two steps: the
/// configuration is checked at once, without any I/O that can hang (a store it can never open:
/// an `ExitStatusProviding` error, exit 78), and the `Opener` it returns opens the store when
/// called (which may fail until the store is there, or hang as long as its server does, bounded).
public enum StoreViewsOpening {
    public typealias Opening = @Sendable (VigilConfig, Logger) throws -> Opener
    public typealias Opener = @Sendable () throws -> any StoreViews

    public static let sqlite: Opening = { config, _ in
        let path = try config.sqliteStore(for: "this command")
        return { try EventStore(readingFrom: path) }
    }
}
