import GRDB
import GRDBSQLite

/// The SQLite session's statement: binds, steps and reads a cached statement with the SQLite C API
/// directly. The statements run per event or per client in every commit are hot enough for GRDB's
/// general argument and row handling (`StatementArguments`, `Row`) to show in `vigil bench ingest`.
///
/// Every parameter must be bound before running (the previous bindings are not cleared).
public struct RawStatement: SessionStatement {
    let statement: Statement
    let db: Database
    private var index: Int32 = 0

    init(_ statement: Statement, db: Database) {
        self.statement = statement
        self.db = db
        sqlite3_reset(statement.sqliteStatement)
    }

    /// Binds the string's own UTF-8 bytes where it stores them contiguously (a native string: no
    /// C-string copy); SQLite copies them before returning.
    public mutating func bind(_ text: String) {
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

    public mutating func bind(_ value: Int64) {
        index += 1
        sqlite3_bind_int64(statement.sqliteStatement, index, value)
    }

    public mutating func bind(_ value: Double) {
        index += 1
        sqlite3_bind_double(statement.sqliteStatement, index, value)
    }

    public mutating func bindNull() {
        index += 1
        sqlite3_bind_null(statement.sqliteStatement, index)
    }

    /// Runs a statement that returns no row; throws GRDB's `DatabaseError` as GRDB would. The
    /// changes are read from SQLite directly (GRDB's accessors check their queue on every call).
    @discardableResult
    public mutating func run() throws -> Int {
        try forEachRow { _ in }
        return Int(sqlite3_changes(db.sqliteConnection))
    }

    /// Binds `text` as the last parameter without SQLite copying it (`SQLITE_STATIC`), runs the
    /// statement while its bytes are certain to be valid, then binds NULL in its place: an event's
    /// body, the largest text of a commit, is then copied once (into the log's page) instead of
    /// twice. A string without contiguous UTF-8 is bound as `bind(_:)` binds it (copied), and
    /// unbound after the run all the same.
    @discardableResult
    public mutating func run(bindingLast text: String) throws -> Int {
        let (handle, last) = (statement.sqliteStatement, index + 1)
        let changes = try text.utf8.withContiguousStorageIfAvailable { bytes throws -> Int in
            guard let base = bytes.baseAddress else { return -1 }
            defer { sqlite3_bind_null(handle, last) }
            base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                _ = sqlite3_bind_text(handle, last, $0, Int32(bytes.count), nil)  // SQLITE_STATIC
            }
            return try run()
        }
        if let changes, changes >= 0 { return changes }
        defer { sqlite3_bind_null(handle, last) }
        bind(text)
        return try run()
    }

    /// Runs the statement, calling `body` with each row, and resets it once done or failed.
    public mutating func forEachRow(_ body: (RawRow) throws -> Void) throws {
        let handle = statement.sqliteStatement
        index = 0
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

/// The current row of a `RawStatement`, valid only inside `forEachRow`'s body.
public struct RawRow: SessionRow {
    let handle: SQLiteStatement

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    public func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    /// The column's text; nil for NULL.
    public func text(_ column: Int32) -> String? {
        guard let characters = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: characters, count: count), as: UTF8.self)
    }
}

/// SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
