import GRDB
import GRDBSQLite

/// Binds, steps and reads a cached statement with the SQLite C API directly: the statements run per
/// event or per client in every commit are hot enough for GRDB's general argument and row handling
/// (`StatementArguments`, `Row`) to show in `vigil bench ingest`.
///
/// Every parameter must be bound before stepping (the previous bindings are not cleared).
struct RawStatement {
    let statement: Statement
    private var index: Int32 = 0

    init(_ statement: Statement) {
        self.statement = statement
        sqlite3_reset(statement.sqliteStatement)
    }

    /// Binds the string's own UTF-8 bytes where it stores them contiguously (a native string: no
    /// C-string copy); SQLite copies them before returning.
    mutating func bind(_ text: String) {
        index += 1
        let (handle, index) = (statement.sqliteStatement, self.index)
        let bound = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
            base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                _ = sqlite3_bind_text(handle, index, $0, Int32(bytes.count), sqliteTransient)
            }
            return true
        }
        if bound != true { sqlite3_bind_text(handle, index, text, -1, sqliteTransient) }
    }

    mutating func bind(_ value: Int64) {
        index += 1
        sqlite3_bind_int64(statement.sqliteStatement, index, value)
    }

    mutating func bind(_ value: Double) {
        index += 1
        sqlite3_bind_double(statement.sqliteStatement, index, value)
    }

    mutating func bind(_ value: Bool) { bind(value ? 1 as Int64 : 0) }

    /// Binds NULL for nil.
    mutating func bind(_ value: (some RawBindable)?) {
        guard let value else {
            index += 1
            sqlite3_bind_null(statement.sqliteStatement, index)
            return
        }
        value.bind(to: &self)
    }

    /// The rows the last statement on `db` inserted, updated or deleted, and the last inserted row
    /// id (read from SQLite directly: GRDB's accessors check their queue on every call).
    static func changes(_ db: Database) -> Int32 { sqlite3_changes(db.sqliteConnection) }
    static func lastInsertedRowID(_ db: Database) -> Int64 { sqlite3_last_insert_rowid(db.sqliteConnection) }

    /// Runs a statement that returns no row; throws GRDB's `DatabaseError` as GRDB would.
    func step(db: Database) throws {
        try forEachRow(db: db) { _ in }
    }

    /// Runs the statement, calling `body` with each row (read it with `int64(_:)`, `text(_:)`),
    /// and resets it once done or failed.
    func forEachRow(db: Database, _ body: (RawRow) throws -> Void) throws {
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_ROW {
                try body(RawRow(handle: handle))
                continue
            }
            guard code == SQLITE_DONE else {
                let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
            }
            return
        }
    }
}

/// The current row of a `RawStatement`, valid only inside `forEachRow`'s body. Columns count from 0.
struct RawRow {
    let handle: SQLiteStatement

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    /// The column's text; nil for NULL.
    func text(_ column: Int32) -> String? {
        guard let characters = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: characters, count: count), as: UTF8.self)
    }
}

/// A value `RawStatement` binds directly.
protocol RawBindable {
    func bind(to statement: inout RawStatement)
}

extension String: RawBindable {
    func bind(to statement: inout RawStatement) { statement.bind(self) }
}

extension Int64: RawBindable {
    func bind(to statement: inout RawStatement) { statement.bind(self) }
}

/// SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
