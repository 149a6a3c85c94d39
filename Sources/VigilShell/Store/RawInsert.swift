import GRDB
import GRDBSQLite

/// Binds and steps a cached statement with the SQLite C API directly: the per-event INSERT is the one
/// statement hot enough for GRDB's general argument handling to show in `vigil bench ingest`.
struct RawInsert {
    let statement: Statement
    private var index: Int32 = 0

    init(_ statement: Statement) {
        self.statement = statement
        sqlite3_reset(statement.sqliteStatement)
    }

    mutating func bind(_ text: String) {
        index += 1
        sqlite3_bind_text(statement.sqliteStatement, index, text, -1, sqliteTransient)
    }

    mutating func bind(_ value: Int64) {
        index += 1
        sqlite3_bind_int64(statement.sqliteStatement, index, value)
    }

    mutating func bind(_ value: Double) {
        index += 1
        sqlite3_bind_double(statement.sqliteStatement, index, value)
    }

    /// Binds NULL for nil.
    mutating func bind(_ value: (some RawBindable)?) {
        guard let value else {
            index += 1
            sqlite3_bind_null(statement.sqliteStatement, index)
            return
        }
        value.bind(to: &self)
    }

    /// Runs the statement; throws GRDB's `DatabaseError` as GRDB would.
    func step(db: Database) throws {
        let code = sqlite3_step(statement.sqliteStatement)
        guard code == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
            sqlite3_reset(statement.sqliteStatement)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
        }
        sqlite3_reset(statement.sqliteStatement)
    }
}

/// A value `RawInsert` binds directly.
protocol RawBindable {
    func bind(to insert: inout RawInsert)
}

extension String: RawBindable {
    func bind(to insert: inout RawInsert) { insert.bind(self) }
}

extension Int64: RawBindable {
    func bind(to insert: inout RawInsert) { insert.bind(self) }
}

/// SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
