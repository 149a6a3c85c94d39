import GRDB

/// One consistent read of a whole SQLite store, table by table in pages of rows in primary-key
/// order (for `vigil store migrate`): it holds one read transaction from `open` to `close`, so
/// every page is of the same instant, whatever a running daemon commits meanwhile.
public final class StoreSnapshot {
    /// The store's tables, parents before the tables that refer to them.
    public static let tables = [
        "events", "clients", "rejections", "rulesets", "ruleset_rules", "evaluations", "absences", "settings",
        "episodes", "tasks", "programs",
    ]

    public let path: String
    let queue: DatabaseQueue

    /// Opens the store read-only and begins the read. Refuses a store whose schema this version
    /// has not brought up to date (run `vigil serve` once), and a store with a table this list
    /// does not know (it would not be copied).
    public init(path: String) throws(StoreError) {
        self.path = path
        queue = try EventStore.openReadOnly(path, spanningAccesses: true)  // the read spans accesses, by design
        do {
            try queue.inDatabase { db in
                guard try Schema.migrator.hasCompletedMigrations(db) else {
                    throw StoreError(
                        path: path,
                        problem:
                            "its schema is older than this version's: run `vigil serve` once to bring it up to date",
                        exitStatus: .config)
                }
                let tables = try String.fetchAll(
                    db,
                    sql:
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'"
                )
                let unknown = Set(tables).subtracting(Self.tables)
                guard unknown.isEmpty else {
                    throw StoreError(
                        path: path,
                        problem: "holds tables this version cannot copy: \(unknown.sorted().joined(separator: ", "))",
                        exitStatus: .software)
                }
                try db.beginTransaction(.deferred)
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM settings")  // the read starts here
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path: path, problem: "cannot read: \(error)")
        }
    }

    /// The table's columns in their order, and which of them (in order) make its primary key.
    public func columns(of table: String) throws(StoreError) -> (names: [String], primaryKey: [String]) {
        try read { db in
            let columns = try db.columns(in: table)
            let key = try db.primaryKey(table).columns
            return (columns.map(\.name), key)
        }
    }

    /// How many rows the table holds.
    public func count(_ table: String) throws(StoreError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }

    /// Up to `limit` rows after `key` (the previous page's last primary key; nil: from the start),
    /// each as its columns' values in `columns` order, and the last row's primary key.
    public func page(
        _ table: String, columns: [String], primaryKey: [String], after key: [DatabaseValue]?, limit: Int
    ) throws(StoreError) -> (rows: [[DatabaseValue]], last: [DatabaseValue]?) {
        try read { db in
            let keyList = primaryKey.joined(separator: ", ")
            var sql = "SELECT \(columns.joined(separator: ", ")) FROM \(table)"
            var arguments = StatementArguments()
            if let key {
                sql += " WHERE (\(keyList)) > (\(Array(repeating: "?", count: key.count).joined(separator: ", ")))"
                arguments = StatementArguments(key)
            }
            sql += " ORDER BY \(keyList) LIMIT \(limit)"
            let keyIndexes = primaryKey.compactMap { columns.firstIndex(of: $0) }
            var rows: [[DatabaseValue]] = []
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try cursor.next() {
                rows.append((0..<columns.count).map { row[$0] as DatabaseValue })
            }
            return (rows, rows.last.map { row in keyIndexes.map { row[$0] } })
        }
    }

    /// Ends the read.
    public func close() {
        try? queue.inDatabase { db in if db.isInsideTransaction { try db.commit() } }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try queue.inDatabase(body)
        } catch {
            throw StoreError(path: path, problem: "cannot read: \(error)")
        }
    }
}
