import Foundation
import GRDB
import Logging
import NIOCore
import PostgresNIO
import VigilShell

/// A `StoreSession` on one PostgreSQL connection inside a transaction that `PostgresEventStore`
/// opened: each statement is sent and waited for on the calling thread (the daemon's commits are
/// synchronous, as SQLite's are; never called on an event loop).
final class PostgresSession: StoreSession {
    let connection: PostgresConnection
    let logger: Logger
    /// Statements' SQL with `?` numbered `$1, $2, …`, by SQL (shared by the store's sessions).
    let numbering: SQLNumbering
    /// When the transaction must be done: no wait for the server goes past it.
    let deadline: NIODeadline
    private(set) var committed: [@Sendable () -> Void] = []

    init(connection: PostgresConnection, numbering: SQLNumbering, deadline: NIODeadline, logger: Logger) {
        self.connection = connection
        self.numbering = numbering
        self.deadline = deadline
        self.logger = logger
    }

    func statement(_ sql: String) -> PostgresStatement {
        PostgresStatement(sql: numbering.numbered(sql), session: self)
    }

    static var listedTexts: String { "SELECT json_array_elements_text(CAST(? AS json))" }

    func afterCommit(_ body: @escaping @Sendable () -> Void) { committed.append(body) }

    /// Takes each client's transaction-scoped advisory lock (key space 1: `hashtext` of its id), in
    /// the order of the keys, so two sessions never wait for each other in a cycle.
    func serialize(clients: [String]) throws {
        guard !clients.isEmpty else { return }
        // Volatile functions in the select list run after ORDER BY: the locks are taken in order.
        try run(
            PostgresQuery(
                unsafeSQL: """
                    SELECT pg_advisory_xact_lock(\(PostgresLocks.clients), k)
                    FROM (SELECT DISTINCT hashtext(c) AS k FROM unnest($1::text[]) AS c) AS keys ORDER BY k
                    """,
                binds: Self.bindings(clients)))
    }

    /// Wakes every notifier once the transaction commits (PostgreSQL delivers a notification on commit).
    func announceTaskDue() throws {
        try run(PostgresQuery(unsafeSQL: "SELECT pg_notify('\(PostgresTaskQueue.wakeChannel)', '')"))
    }

    func revisions(of clients: [String]) throws -> [String: Int64]? {
        var revisions = Dictionary(uniqueKeysWithValues: clients.map { ($0, Int64(0)) })
        try runMany(
            "SELECT r.client, r.revision FROM client_revisions r JOIN (VALUES (?)) AS u ON r.client = u.column1",
            rows: clients.map { [$0] as [(any SQLBindable)?] }
        ) { row in
            if let client = row.text(0) { revisions[client] = row.int64(1) }
        }
        return revisions
    }

    func advanceRevisions(of clients: [String]) throws -> [String: Int64]? {
        var revisions: [String: Int64] = [:]
        try runMany(
            """
            INSERT INTO client_revisions(client, revision) VALUES (?, 1)
            ON CONFLICT(client) DO UPDATE SET revision = client_revisions.revision + 1 RETURNING client, revision
            """, rows: clients.map { [$0] as [(any SQLBindable)?] }
        ) { row in
            if let client = row.text(0) { revisions[client] = row.int64(1) }
        }
        return revisions
    }

    func runMany<Values: SQLRow>(
        _ sql: String, oneRow: String?, rows: [Values], each body: (PostgresSessionRow) throws -> Void
    ) throws {
        guard let first = rows.first else { return }
        let template = try ValuesTemplate(sql, width: first.width)
        // PostgreSQL takes at most 65,535 parameters in a statement.
        let perStatement = max(1, 30_000 / max(1, first.width))
        for start in stride(from: 0, to: rows.count, by: perStatement) {
            let chunk = rows[start..<min(rows.count, start + perStatement)]
            var statement = PostgresStatement(sql: template.sql(rows: chunk.count, numbered: true), session: self)
            for row in chunk { row.bind(to: &statement) }
            try statement.forEachRow(body)
        }
    }

    func insertMany<Values: SQLRow>(_ sql: String, rows: [Values]) throws {
        try runMany(sql, oneRow: nil, rows: rows) { _ in }
    }

    /// The batch in one statement (or a few), numbered in the batch's order, the numbers matched
    /// back by client and id: the first of the batch's rows with a key gets its number, a later one
    /// (a replay within the batch) none.
    func insert(events rows: [EventRow]) throws -> [Int64?] {
        var inserted: [EventKey: Int64] = [:]
        inserted.reserveCapacity(rows.count)
        try runMany(EventRow.insert + " RETURNING client, id, seq", rows: rows) { row in
            inserted[EventKey(client: row.text(0) ?? "", id: row.text(1) ?? "")] = row.int64(2)
        }
        return rows.map { inserted.removeValue(forKey: EventKey(client: $0.client, id: $0.id)) }
    }

    /// An event's identity in the store.
    private struct EventKey: Hashable {
        let client: String
        let id: String
    }

    func rows(_ sql: String, _ values: [(any SQLBindable)?]) throws -> [Row] {
        var statement = statement(sql)
        values.bind(to: &statement)
        return try statement.result().rows.map(PostgresTaskQueue.row)
    }

    /// Runs `query` and waits for its result, until the transaction's deadline at most. On a
    /// connection already closed (the server went away) it fails at once: a query written to a
    /// closed channel would never be answered.
    @discardableResult
    func run(_ query: PostgresQuery) throws -> PostgresQueryResult {
        guard !connection.isClosed else { throw ConnectionClosed() }
        return try Deadline.wait(for: connection.query(query, logger: logger), until: deadline)
    }

    static func bindings(_ values: [String]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(values)
        return bindings
    }
}

/// A connection closed under its caller (a transient failure: the next transaction connects again).
struct ConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the connection to the server is closed" }
}

/// A statement of a `PostgresSession`: its parameters collected, sent when run.
struct PostgresStatement: SessionStatement {
    let sql: String
    let session: PostgresSession
    private var bindings = PostgresBindings()

    init(sql: String, session: PostgresSession) {
        self.sql = sql
        self.session = session
    }

    mutating func bind(_ value: String) { bindings.append(value) }
    mutating func bind(_ value: Int64) { bindings.append(value) }
    mutating func bind(_ value: Double) { bindings.append(value) }
    mutating func bindNull() { bindings.appendNull() }

    @discardableResult
    mutating func run() throws -> Int {
        try result().metadata.rows ?? 0
    }

    mutating func forEachRow(_ body: (PostgresSessionRow) throws -> Void) throws {
        for row in try result().rows { try body(PostgresSessionRow(cells: PostgresRandomAccessRow(row))) }
    }

    /// Sends the statement with the parameters bound, which are then cleared for the next run.
    mutating func result() throws -> PostgresQueryResult {
        defer { bindings = PostgresBindings() }
        return try session.run(PostgresQuery(unsafeSQL: sql, binds: bindings))
    }
}

/// A row of a `PostgresSession`'s result. The store's columns are `BIGINT`, `DOUBLE PRECISION` and
/// `TEXT`; a NULL (or a column of another type) reads as 0 or nil.
struct PostgresSessionRow: SessionRow {
    let cells: PostgresRandomAccessRow

    func int64(_ column: Int32) -> Int64 { ((try? cells[Int(column)].decode(Int64?.self)) ?? nil) ?? 0 }
    func double(_ column: Int32) -> Double { ((try? cells[Int(column)].decode(Double?.self)) ?? nil) ?? 0 }
    func text(_ column: Int32) -> String? { (try? cells[Int(column)].decode(String?.self)) ?? nil }
    func isNull(_ column: Int32) -> Bool { cells[Int(column)].bytes == nil }
}

/// SQL written with SQLite's `?` placeholders numbered for PostgreSQL (`$1, $2, …`), each text
/// numbered once.
final class SQLNumbering: @unchecked Sendable {
    private let lock = NSLock()
    private var numbered: [String: String] = [:]

    func numbered(_ sql: String) -> String {
        if let known = lock.withLock({ numbered[sql] }) { return known }
        let text = Self.number(sql)
        lock.withLock { numbered[sql] = text }
        return text
    }

    /// `sql` with its `?` numbered (the store's SQL has no `?` inside a literal).
    static func number(_ sql: String) -> String {
        var text = ""
        var index = 0
        for character in sql {
            if character == "?" {
                index += 1
                text += "$\(index)"
            } else {
                text.append(character)
            }
        }
        return text
    }
}

/// The advisory lock key spaces of the store (two-key form, apart from the migrations' one-key lock).
enum PostgresLocks {
    /// A client's evaluation: `(clients, hashtext(id))`, held by its transaction.
    static let clients: Int32 = 1
    /// Timer work (absences): `(timer, 0)`, one node at a time.
    static let timer: Int32 = 2
}
