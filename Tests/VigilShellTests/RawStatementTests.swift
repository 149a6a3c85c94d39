import GRDB
import XCTest

@testable import VigilShell

/// Direct binding and reading: values arrive and are read back as with GRDB, errors as GRDB's.
final class RawStatementTests: XCTestCase {
    func makeTable() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t(id TEXT PRIMARY KEY, n INTEGER, x REAL, note TEXT)")
        }
        return queue
    }

    func testValuesRoundTripAndNilIsNull() throws {
        let queue = try makeTable()
        try queue.write { db in
            let statement = try db.cachedStatement(sql: "INSERT INTO t(id, n, x, note) VALUES (?, ?, ?, ?)")
            for (id, n, note) in [("é🙂-1", Int64.min, "kept"), ("plain", Int64.max, nil)] as [(String, Int64, String?)]
            {
                var row = RawStatement(statement, db: db)
                row.bind(id)
                row.bind(n)
                row.bind(0.1)
                row.bind(note)
                try row.run()
            }
        }
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT id, n, x, note FROM t ORDER BY n") }
        XCTAssertEqual(rows.map { $0["id"] as String }, ["é🙂-1", "plain"])
        XCTAssertEqual(rows.map { $0["n"] as Int64 }, [Int64.min, Int64.max])
        XCTAssertEqual(rows.map { $0["x"] as Double }, [0.1, 0.1])
        XCTAssertEqual(rows.map { $0["note"] as String? }, ["kept", nil])
    }

    func testAnEmptyStringIsEmptyTextNotNull() throws {
        let queue = try makeTable()
        try queue.write { db in
            var row = RawStatement(try db.cachedStatement(sql: "INSERT INTO t(id, note) VALUES (?, ?)"), db: db)
            row.bind("")
            row.bind(Substring("a longer text, from a slice")[...].dropFirst(2).description)
            XCTAssertEqual(try row.run(), 1)
        }
        let row = try queue.read { db in try Row.fetchOne(db, sql: "SELECT id, note FROM t") }
        XCTAssertEqual(row?["id"] as String?, "")
        XCTAssertEqual(row?["note"] as String?, "longer text, from a slice")
    }

    /// A text bound in place for the run (an event's body) is stored whole, short or long, and is
    /// unbound afterwards: the statement, run again with the other parameters only, stores NULL
    /// there rather than reading the freed bytes.
    func testATextBoundInPlaceIsStoredWholeAndUnboundAfterTheRun() throws {
        let queue = try makeTable()
        let long = String(repeating: "{\"mood\": 3, \"note\": \"é🙂\"} ", count: 200)
        try queue.write { db in
            let statement = try db.cachedStatement(sql: "INSERT INTO t(id, note) VALUES (?, ?)")
            for (id, note) in [("short", "tiny"), ("long", long), ("empty", "")] {
                var row = RawStatement(statement, db: db)
                row.bind(id)
                XCTAssertEqual(try row.run(bindingLast: note), 1)
            }
            var row = RawStatement(statement, db: db)
            row.bind("unbound")
            XCTAssertEqual(try row.run(), 1)
        }
        let notes = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT id, note FROM t").map { ($0["id"] as String, $0["note"] as String?) }
        }
        XCTAssertEqual(notes.first { $0.0 == "short" }?.1, "tiny")
        XCTAssertEqual(notes.first { $0.0 == "long" }?.1, long)
        XCTAssertEqual(notes.first { $0.0 == "empty" }?.1, "")
        XCTAssertEqual(notes.first { $0.0 == "unbound" }?.1, String?.none)
    }

    func testAFailedStepThrowsGRDBsErrorAndLeavesTheStatementReusable() throws {
        let queue = try makeTable()
        try queue.write { db in
            let statement = try db.cachedStatement(sql: "INSERT INTO t(id, n) VALUES (?, ?)")
            for attempt in ["a", "a", "b"] {
                var row = RawStatement(statement, db: db)
                row.bind(attempt)
                row.bind(Int64(1))
                do {
                    let changed = try row.run()
                    XCTAssertEqual(changed, 1)
                } catch let error as DatabaseError {
                    XCTAssertEqual(error.resultCode, .SQLITE_CONSTRAINT)
                    XCTAssertEqual(error.sql, "INSERT INTO t(id, n) VALUES (?, ?)")
                }
            }
        }
        XCTAssertEqual(
            try queue.read { db in try String.fetchAll(db, sql: "SELECT id FROM t ORDER BY id") }, ["a", "b"])
    }

    func testRowsAreReadAsStoredAndTheStatementIsResetAfterwards() throws {
        let queue = try makeTable()
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO t(id, n, x, note) VALUES ('é🙂-1', ?, 0.5, 'kept'), ('plain', ?, NULL, NULL)",
                arguments: [Int64.min, Int64.max])
            let statement = try db.cachedStatement(sql: "SELECT id, n, note FROM t WHERE n <= ? ORDER BY n")
            for _ in 0..<2 {
                var query = RawStatement(statement, db: db)
                query.bind(Int64.max)
                var rows: [(String?, Int64, String?, Bool)] = []
                try query.forEachRow { row in
                    rows.append((row.text(0), row.int64(1), row.text(2), row.isNull(2)))
                }
                XCTAssertEqual(rows.map(\.0), ["é🙂-1", "plain"])
                XCTAssertEqual(rows.map(\.1), [Int64.min, Int64.max])
                XCTAssertEqual(rows.map(\.2), ["kept", nil])
                XCTAssertEqual(rows.map(\.3), [false, true])
            }
        }
    }

    /// `insertMany` on SQLite: full statements of `rowsPerInsert` rows, the rest row by row; every
    /// row once, in order, whatever the count.
    func testInsertManyStoresEveryRowInOrder() throws {
        let queue = try makeTable()
        let per = SQLiteSession.rowsPerInsert
        for count in [0, 1, per - 1, per, 2 * per + 5] {
            try queue.write { db in
                try db.execute(sql: "DELETE FROM t")
                let rows = (0..<count).map { [String(format: "%04d", $0), Int64($0)] as [(any SQLBindable)?] }
                try SQLiteSession(db).insertMany("INSERT INTO t(id, n) VALUES (?, ?)", rows: rows)
            }
            let stored = try queue.read { db in try Row.fetchAll(db, sql: "SELECT id, n FROM t ORDER BY rowid") }
            XCTAssertEqual(stored.map { $0["n"] as Int64 }, (0..<Int64(count)).map { $0 }, "\(count) rows")
            XCTAssertEqual(stored.map { $0["id"] as String }, (0..<count).map { String(format: "%04d", $0) })
        }
    }
}
