import XCTest

@testable import VigilShell

/// `StoreSession.runMany` on PostgreSQL: a statement written for one row, its `VALUES (…)` group
/// repeated and numbered for several.
final class ValuesTemplateTests: XCTestCase {
    func testTheGroupIsRepeatedAndNumberedInRowOrder() throws {
        let insert = try ValuesTemplate("INSERT INTO t(a, b) VALUES (?, 1, ?) ON CONFLICT(a) DO NOTHING", width: 2)
        XCTAssertEqual(
            insert.sql(rows: 3, numbered: true),
            "INSERT INTO t(a, b) VALUES ($1, 1, $2), ($3, 1, $4), ($5, 1, $6) ON CONFLICT(a) DO NOTHING")
        let join = try ValuesTemplate(
            "UPDATE c SET x = u.column2 FROM (VALUES (CAST(? AS TEXT), CAST(? AS BIGINT))) AS u WHERE c.id = u.column1",
            width: 2)
        XCTAssertEqual(
            join.sql(rows: 2, numbered: true),
            "UPDATE c SET x = u.column2 FROM (VALUES (CAST($1 AS TEXT), CAST($2 AS BIGINT)), (CAST($3 AS TEXT), CAST($4 AS BIGINT))) AS u WHERE c.id = u.column1"
        )
    }

    func testAStatementItCannotRepeatIsRefused() {
        XCTAssertThrowsError(try ValuesTemplate("UPDATE c SET x = ? WHERE id = ?", width: 2))
        XCTAssertThrowsError(try ValuesTemplate("INSERT INTO t(a) VALUES (?) RETURNING ?", width: 1))
        XCTAssertThrowsError(try ValuesTemplate("INSERT INTO t(a, b) VALUES (?, ?)", width: 3))
    }
}
