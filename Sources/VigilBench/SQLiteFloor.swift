import GRDB
import GRDBSQLite
import VigilShell

/// The floors of `vigil bench ingest` (b) and (c): the rows Vigil wrote (events, evaluations,
/// clients, episodes, tasks, absences, rule sets) written again into an empty store with the same
/// schema and indexes, in WAL with `synchronous=FULL` and transactions of the same number of
/// check-ins as Vigil's, two ways:
///
/// - **bound**, the floor of issue 13 ("a minimal SQLite bulk insert, prepared statements"): every
///   row read into memory first (untimed, its texts packed in one buffer), then one prepared
///   `INSERT` a table, each row's values bound in place (no copy) and stepped through the SQLite C
///   interface, nothing more a row. What any writer whose rows come from outside the database must
///   do at least; Vigil's cost over it is decoding, deciding and its own bookkeeping.
/// - **copied**, a stricter reference: SQLite copying the rows from Vigil's store by
///   `INSERT … SELECT` (no row ever leaves the engine), which no ingest can do.
struct SQLiteFloor {
    let source: String
    /// Where each way writes its store.
    let boundTarget: String
    let copiedTarget: String
    let eventsPerTransaction: Int

    /// The seconds each way took.
    struct Seconds {
        let bound: Double
        let copied: Double
    }

    func run() throws -> Seconds {
        let rows = try StoredRows(path: source)
        let events = rows.events.rows.last?.key ?? 0
        let size = Int64(eventsPerTransaction)
        let transactions = max(1, Int((events + size - 1) / size))
        // Each transaction's rows, cut untimed: the other tables' rows in as many even slices, first
        // (the evaluations refer to the rule sets), then the events' and their evaluations'.
        let slices = (0..<transactions).map { slice in
            rows.others.map { table in
                let share = (table.rows.count + transactions - 1) / transactions
                let start = min(table.rows.count, slice * share)
                return (table.insert, table.rows[start..<min(table.rows.count, start + share)])
            }
                + [rows.events, rows.evaluations].map { table in
                    (table.insert, table.rows(keyedAfter: Int64(slice) * size, upTo: Int64(slice + 1) * size))
                }
        }
        // The texts' bytes stay where they are while bound: the rows' buffer, held by this closure.
        let bound = try rows.texts.withUnsafeBytes { texts in
            try time(into: boundTarget) { queue in
                for slice in slices {
                    try queue.inTransaction { db in
                        for (sql, rows) in slice { try Self.insert(rows, texts: texts, with: sql, db) }
                        return .commit
                    }
                }
            }
        }
        let copied = try time(into: copiedTarget) { queue in
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "ATTACH DATABASE ? AS source", arguments: [source])
            }
            for slice in 0..<transactions {
                let (low, high) = (Int64(slice) * size, Int64(slice + 1) * size)
                try queue.inTransaction { db in
                    for table in rows.others {
                        let share = (table.rows.count + transactions - 1) / transactions
                        try db.cachedStatement(
                            sql:
                                "INSERT OR REPLACE INTO main.\(table.name) SELECT * FROM source.\(table.name) LIMIT ? OFFSET ?"
                        ).execute(arguments: [share, slice * share])
                    }
                    try db.cachedStatement(
                        sql: "INSERT INTO main.events SELECT * FROM source.events WHERE seq > ? AND seq <= ?"
                    )
                    .execute(arguments: [low, high])
                    try db.cachedStatement(
                        sql:
                            "INSERT INTO main.evaluations SELECT * FROM source.evaluations WHERE event_seq > ? AND event_seq <= ?"
                    ).execute(arguments: [low, high])
                    return .commit
                }
            }
        }
        return Seconds(bound: bound, copied: copied)
    }

    /// Times `write` on a new store at `path` with the schema and indexes of Vigil's (created by
    /// the store's own migrations, untimed).
    private func time(into path: String, _ write: (DatabaseQueue) throws -> Void) throws -> Double {
        _ = try EventStore(path: path, stages: [])
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // Vigil's own settings (its statement journals in memory, its page cache), in WAL.
            try db.execute(
                sql: "PRAGMA journal_mode = WAL; " + EventStore.settings(cacheKiB: EventStore.defaultCacheKiB))
        }
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try IngestBench.time { try write(queue) }.1
    }

    /// Binds each row's values in place (texts from `texts`, which outlives the statement's runs)
    /// and steps the statement once a row.
    private static func insert(
        _ rows: ArraySlice<StoredRows.Row>, texts: UnsafeRawBufferPointer, with sql: String, _ db: Database
    ) throws {
        guard !rows.isEmpty else { return }
        let statement = try db.cachedStatement(sql: sql).sqliteStatement
        for row in rows {
            for (index, value) in zip(Int32(1)..., row.values) {
                switch value {
                case .integer(let integer): sqlite3_bind_int64(statement, index, integer)
                case .real(let real): sqlite3_bind_double(statement, index, real)
                case .text(let offset, let count):
                    sqlite3_bind_text(
                        statement, index, texts.baseAddress?.advanced(by: offset).assumingMemoryBound(to: CChar.self),
                        Int32(count), nil)  // SQLITE_STATIC
                case .null: sqlite3_bind_null(statement, index)
                }
            }
            let code = sqlite3_step(statement)
            sqlite3_reset(statement)
            guard code == SQLITE_DONE else {
                throw BenchError("the floor's insert failed: \(String(cString: sqlite3_errstr(code))) (\(sql))")
            }
        }
    }
}

/// Every row of a store, read into memory: each table's insert, and its rows in the table's order;
/// their texts packed in one buffer.
private struct StoredRows {
    enum Value {
        case integer(Int64)
        case real(Double)
        /// The text's UTF-8 bytes in `texts`.
        case text(offset: Int, count: Int)
        case null
    }

    struct Row {
        /// The event's sequence number (events and evaluations: what a transaction's slice is cut by).
        let key: Int64
        let values: [Value]
    }

    struct Table {
        let name: String
        let insert: String
        /// In the table's order (by key for events and evaluations).
        let rows: [Row]

        /// The rows keyed after `low`, up to `high`.
        func rows(keyedAfter low: Int64, upTo high: Int64) -> ArraySlice<Row> {
            let start = rows.firstIndex { $0.key > low } ?? rows.endIndex
            let end = rows[start...].firstIndex { $0.key > high } ?? rows.endIndex
            return rows[start..<end]
        }
    }

    let events: Table
    let evaluations: Table
    /// Every other table but GRDB's and SQLite's own.
    let others: [Table]
    /// Every text's UTF-8 bytes, one after the other.
    let texts: [UInt8]

    init(path: String) throws {
        let queue = try DatabaseQueue(path: path)
        var packed: [UInt8] = []
        (events, evaluations, others) = try queue.read { db in
            let names = try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master WHERE type = 'table'
                    AND name NOT IN ('events', 'evaluations', 'grdb_migrations') AND name NOT LIKE 'sqlite_%'
                    """)
            return (
                try Self.table(db, "events", key: "seq", texts: &packed),
                try Self.table(db, "evaluations", key: "event_seq", texts: &packed),
                try names.map { try Self.table(db, $0, key: nil, texts: &packed) }
            )
        }
        texts = packed
    }

    private static func table(_ db: Database, _ name: String, key: String?, texts: inout [UInt8]) throws -> Table {
        let statement = try db.makeStatement(
            sql: "SELECT \(key ?? "0"), * FROM \(name)\(key.map { " ORDER BY \($0)" } ?? "")")
        let width = statement.columnCount - 1
        var rows: [Row] = []
        let cursor = try GRDB.Row.fetchCursor(statement)
        while let row = try cursor.next() {
            var values: [Value] = []
            values.reserveCapacity(width)
            for column in 1...width {
                switch (row[column] as DatabaseValue).storage {
                case .int64(let integer): values.append(.integer(integer))
                case .double(let real): values.append(.real(real))
                case .string(let text):
                    values.append(.text(offset: texts.count, count: text.utf8.count))
                    texts += text.utf8
                case .null: values.append(.null)
                case .blob: throw BenchError("the floor reads no blobs, and \(name) holds one")
                }
            }
            rows.append(Row(key: row[0], values: values))
        }
        let insert = key == nil ? "INSERT OR REPLACE" : "INSERT"
        let parameters = Array(repeating: "?", count: width).joined(separator: ", ")
        return Table(name: name, insert: "\(insert) INTO \(name) VALUES (\(parameters))", rows: rows)
    }
}
