import GRDB
import GRDBSQLite

/// One write transaction on the store, whichever the backend: the seam through which the commit of
/// check-ins, the decision stage and its effect writer reach SQLite (`SQLiteSession`) or
/// PostgreSQL (VigilPostgres' `PostgresSession`) with the same SQL.
///
/// The SQL is the subset both speak: `?` parameters, `ON CONFLICT … DO NOTHING / DO UPDATE` with
/// the target's columns qualified, `RETURNING`, `CASE` instead of SQLite's scalar `min`/`max` and
/// of booleans stored as integers.
public protocol StoreSession {
    associatedtype Statement: SessionStatement

    /// A prepared statement for `sql` (cached by the session: bind and run it again and again).
    func statement(_ sql: String) throws -> Statement

    /// A subquery of one column listing the texts of the JSON array bound to its one parameter
    /// (`… IN (\(Session.listedTexts))`, bound with `JSONOutput.text(texts)`): one statement for a
    /// whole list, in the function each backend has for it.
    static var listedTexts: String { get }

    /// Runs `body` once the transaction has committed (never when it rolls back).
    func afterCommit(_ body: @escaping @Sendable () -> Void)

    /// Serializes this transaction with any other evaluating the same clients, listed in any order
    /// and repeated or not (on several nodes, PostgreSQL takes each client's transaction-scoped
    /// advisory lock once, in the order of the locks' keys; one SQLite writer is serialized
    /// already). Called before the clients' events are inserted.
    func serialize(clients: [String]) throws

    /// Announces, with the commit, that a task due now was enqueued (PostgreSQL: `NOTIFY`, which
    /// wakes the notifiers of every node; SQLite: nothing, the daemon pokes its notifier's wake
    /// file once the commit is done).
    func announceTaskDue() throws

    /// The clients' revisions in a store that other nodes write to (0 for a client never
    /// revised): a state cached at another revision is stale. Nil when this process is the
    /// store's only writer (SQLite).
    func revisions(of clients: [String]) throws -> [String: Int64]?

    /// Records that this transaction changed the clients' decision state; returns their revisions
    /// once committed (nil when this process is the store's only writer).
    func advanceRevisions(of clients: [String]) throws -> [String: Int64]?

    /// Runs `sql`, written for one row of values (its first `VALUES (?, …)` group), for each of
    /// `rows`, calling `body` with each row it returns. SQLite runs it row by row; PostgreSQL, for
    /// which every statement is a round trip to the server, sends as many rows as its parameter
    /// limit allows in each statement (the group repeated: `VALUES (…), (…), …`), so the SQL must
    /// mean the same for several rows: an `INSERT`, or a statement joining `(VALUES (…)) AS u`
    /// (whose columns both backends name `column1, column2, …`; cast each parameter whose type the
    /// statement does not imply). For such a join, `oneRow` is the same statement for a single row
    /// (its values numbered `?1, ?2, …`), which SQLite runs without building a table per row.
    func runMany<Values: SQLRow>(
        _ sql: String, oneRow: String?, rows: [Values], each body: (Statement.Row) throws -> Void
    ) throws

    /// Inserts `rows` with `sql`, an `INSERT` written for one row (`VALUES (?, …)`) whose rows are
    /// new keys appended to their table (the evaluations of newly stored events: no conflict, no
    /// page of the table's middle touched), several rows a statement on both backends.
    func insertMany<Values: SQLRow>(_ sql: String, rows: [Values]) throws

    /// Inserts each of `rows` into `events` (`EventRow.insert`, skipping a row whose client and id
    /// are stored already) and returns, per row in order, the sequence number it was stored with, or
    /// nil for a row skipped. SQLite numbers each row as it inserts it; PostgreSQL sends the batch in
    /// as few statements as it can and matches the numbers it returns to the rows by key.
    func insert(events rows: [EventRow]) throws -> [Int64?]

    /// Every row of `sql` with `values` bound, by column name (for the records that read their
    /// rows as GRDB's, such as `TaskRecord`).
    func rows(_ sql: String, _ values: [(any SQLBindable)?]) throws -> [Row]
}

/// A prepared statement of a `StoreSession`: bind every parameter in order, then run it.
public protocol SessionStatement {
    associatedtype Row: SessionRow

    mutating func bind(_ value: String)
    mutating func bind(_ value: Int64)
    mutating func bind(_ value: Double)
    mutating func bindNull()

    /// Runs a statement that returns no row; returns the rows it inserted, updated or deleted.
    @discardableResult
    mutating func run() throws -> Int

    /// Runs the statement, calling `body` with each row (valid only inside `body`).
    mutating func forEachRow(_ body: (Row) throws -> Void) throws
}

/// A result row; columns count from 0. A NULL reads as 0 or nil.
public protocol SessionRow {
    func int64(_ column: Int32) -> Int64
    func double(_ column: Int32) -> Double
    func text(_ column: Int32) -> String?
    func isNull(_ column: Int32) -> Bool
}

extension SessionStatement {
    mutating func bind(_ value: Bool) { bind(value ? 1 as Int64 : 0) }
    mutating func bind(_ value: Int) { bind(Int64(value)) }

    /// Binds NULL for nil.
    mutating func bind(_ value: (some SQLBindable)?) {
        guard let value else { return bindNull() }
        value.bind(to: &self)
    }
}

/// One row of values for `runMany`, bound in order. A type of its own binds its fields directly;
/// an array of `SQLBindable`s boxes each value, which the statements run per check-in feel.
public protocol SQLRow {
    /// How many values `bind(to:)` binds.
    var width: Int { get }
    func bind(to statement: inout some SessionStatement)
}

extension Array: SQLRow where Element == (any SQLBindable)? {
    public var width: Int { count }

    public func bind(to statement: inout some SessionStatement) {
        for value in self {
            if let value { value.bind(to: &statement) } else { statement.bindNull() }
        }
    }
}

/// A value a `SessionStatement` binds (GRDB's `databaseValue` for SQLite's `rows`).
public protocol SQLBindable: Sendable, DatabaseValueConvertible {
    func bind(to statement: inout some SessionStatement)
}

extension String: SQLBindable {
    public func bind(to statement: inout some SessionStatement) { statement.bind(self) }
}

extension Int64: SQLBindable {
    public func bind(to statement: inout some SessionStatement) { statement.bind(self) }
}

extension Int: SQLBindable {
    public func bind(to statement: inout some SessionStatement) { statement.bind(Int64(self)) }
}

extension Double: SQLBindable {
    public func bind(to statement: inout some SessionStatement) { statement.bind(self) }
}

extension Bool: SQLBindable {
    public func bind(to statement: inout some SessionStatement) { statement.bind(self ? 1 as Int64 : 0) }
}

extension StoreSession {
    /// Runs `sql` with `values` bound in order; returns the rows it changed.
    @discardableResult
    package func execute(_ sql: String, _ values: (any SQLBindable)?...) throws -> Int {
        var statement = try bound(sql, values)
        return try statement.run()
    }

    /// Every row of `sql` with `values` bound, each read by `read`.
    package func fetchAll<T>(_ sql: String, _ values: (any SQLBindable)?..., read: (Statement.Row) throws -> T) throws
        -> [T]
    {
        var statement = try bound(sql, values)
        var found: [T] = []
        try statement.forEachRow { found.append(try read($0)) }
        return found
    }

    /// The first row of `sql` with `values` bound, read by `read`; nil when there is none.
    package func fetchOne<T>(_ sql: String, _ values: (any SQLBindable)?..., read: (Statement.Row) throws -> T) throws
        -> T?
    {
        var statement = try bound(sql, values)
        var found: T?
        try statement.forEachRow { row in
            if found == nil { found = try read(row) }
        }
        return found
    }

    /// `runMany` for a statement that returns no row.
    package func runMany<Values: SQLRow>(_ sql: String, oneRow: String? = nil, rows: [Values]) throws {
        try runMany(sql, oneRow: oneRow, rows: rows) { _ in }
    }

    /// `runMany` for a statement written for one row and many alike (an `INSERT`).
    package func runMany<Values: SQLRow>(
        _ sql: String, rows: [Values], each body: (Statement.Row) throws -> Void
    ) throws {
        try runMany(sql, oneRow: nil, rows: rows, each: body)
    }

    private func bound(_ sql: String, _ values: [(any SQLBindable)?]) throws -> Statement {
        var statement = try self.statement(sql)
        values.bind(to: &statement)
        return statement
    }
}

/// A write (or read) transaction on the SQLite store, through GRDB's connection.
public struct SQLiteSession: StoreSession {
    let db: Database

    init(_ db: Database) { self.db = db }

    public static var listedTexts: String { "SELECT value FROM json_each(?)" }

    public func statement(_ sql: String) throws -> RawStatement {
        RawStatement(try db.cachedStatement(sql: sql), db: db)
    }

    public func afterCommit(_ body: @escaping @Sendable () -> Void) {
        db.afterNextTransaction { _ in body() }
    }

    public func serialize(clients: [String]) {}

    public func announceTaskDue() {}

    public func revisions(of clients: [String]) -> [String: Int64]? { nil }

    public func advanceRevisions(of clients: [String]) -> [String: Int64]? { nil }

    public func runMany<Values: SQLRow>(
        _ sql: String, oneRow: String?, rows: [Values], each body: (RawStatement.Row) throws -> Void
    ) throws {
        guard !rows.isEmpty else { return }
        var statement = try statement(oneRow ?? sql)
        for row in rows {
            row.bind(to: &statement)
            try statement.forEachRow(body)
        }
    }

    /// `rowsPerInsert` rows a statement (what SQLite does once per statement, its program's start
    /// and end, is then shared), the rest row by row.
    public func insertMany<Values: SQLRow>(_ sql: String, rows: [Values]) throws {
        guard let first = rows.first else { return }
        var start = 0
        if rows.count >= Self.rowsPerInsert {
            var many = try statement(
                try ValuesTemplate(sql, width: first.width).sql(rows: Self.rowsPerInsert, numbered: false))
            while rows.count - start >= Self.rowsPerInsert {
                for row in rows[start..<start + Self.rowsPerInsert] { row.bind(to: &many) }
                try many.run()
                start += Self.rowsPerInsert
            }
        }
        var statement = try statement(sql)
        for row in rows[start...] {
            row.bind(to: &statement)
            try statement.run()
        }
    }

    /// Rows in each statement of `insertMany`.
    static let rowsPerInsert = 32

    /// Row by row, without `RETURNING` (which SQLite answers by collecting the rows aside): a row
    /// inserted is numbered by the connection's last inserted rowid, `seq` being the rowid.
    public func insert(events rows: [EventRow]) throws -> [Int64?] {
        var statement = try statement(EventRow.insert)
        var numbers: [Int64?] = []
        numbers.reserveCapacity(rows.count)
        for row in rows {
            row.bindAllButBody(to: &statement)
            let inserted = try statement.run(bindingLast: row.event.body)
            numbers.append(inserted == 1 ? sqlite3_last_insert_rowid(db.sqliteConnection) : nil)
        }
        return numbers
    }

    public func rows(_ sql: String, _ values: [(any SQLBindable)?]) throws -> [Row] {
        try Row.fetchAll(db, sql: sql, arguments: StatementArguments(values.map { $0?.databaseValue ?? .null }))
    }
}
