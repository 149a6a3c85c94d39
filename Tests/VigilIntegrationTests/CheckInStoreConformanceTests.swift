import Foundation
import GRDB
import Logging
import VigilBench
import VigilCore
import VigilPostgres
import VigilShell
import XCTest

/// One suite, two stores: the daemon's store (`CheckInStore`: check-ins committed with their
/// decisions, the absence timer's ticks) on a real SQLite file and on a real PostgreSQL 15 leaves
/// the same rows. The input is a seeded synthetic caseload (`HistoryBench`: routine check-ins,
/// stressor cascades, C-SSRS screenings, crisis calls, ED visits, overdoses, contacts that reach the
/// client or not), committed hour by hour with the absence timer after each hour, as the daemon
/// meets it. SQLite keeps each client's state cached between commits; PostgreSQL's stage caches two
/// clients only, so nearly every commit rebuilds the state from the store (as a node does when
/// another has changed the client): the same rows also show the two agree.
/// Skips loudly when no PostgreSQL server can be started.
final class CheckInStoreConformanceTests: XCTestCase {
    static let quiet: Logger = {
        var logger = Logger(label: "conformance")
        logger.logLevel = .critical
        return logger
    }()

    func testTheSameHistoryLeavesTheSameRowsOnBothBackends() async throws {
        let harness = try Harness()
        let pack = try RulePack.load(directory: Harness.repository + "/Rules")
        var bench = HistoryBench(directory: harness.root + "/history", pack: pack) { _ in }
        bench.clients = 80
        bench.days = 14
        bench.seed = 17
        let end = Timestamp(seconds: 1_780_272_000)  // 2026-06-01T00:00:00Z

        let path = harness.root + "/conformance.sqlite"
        let sqlite = try EventStore(
            path: path, stages: [DecisionStage(pack: pack, logger: Self.quiet)])
        var started = Date()
        let written = try bench.write(endingAt: end, into: sqlite)
        let sqliteTook = Date().timeIntervalSince(started)

        let postgres = try PostgresServer.forPostgresHalf(of: "the store conformance suite", secretsIn: harness.root)
        defer { postgres.stop() }
        let target = try PostgresTarget(url: postgres.url, passwordFile: postgres.passwordFile)
        try await PostgresSchema.migrate(target, logger: Self.quiet)
        let shared = PostgresEventStore(
            target: target, stages: [DecisionStage(pack: pack, logger: Self.quiet, capacity: 2)],
            logger: Self.quiet)
        started = Date()
        defer { shared.close() }
        let replayed = try bench.write(endingAt: end, into: shared)
        let postgresTook = Date().timeIntervalSince(started)
        XCTAssertEqual(replayed.checkIns, written.checkIns)

        // Then one commit larger than PostgreSQL takes in a statement (its rows go in several),
        // with a replay and a conflicting reuse of an id inside it: the same outcomes on both.
        let large = try Self.largeCommit(pack: pack, at: end)
        let outcomes = try sqlite.commit(large, rejections: [], at: end)
        XCTAssertEqual(try shared.commit(large, rejections: [], at: end), outcomes, "the large commit's outcomes")
        XCTAssertEqual(outcomes.filter { $0 == .duplicate }.count, 1)
        XCTAssertEqual(outcomes.filter { $0 == .conflict }.count, 1)
        let database = try DatabaseQueue(path: path)
        let sqliteRows = try Self.tables.mapValues { sql in try database.read { try String.fetchAll($0, sql: sql) } }

        // `vigil client show` reads the same report from either store.
        let access = try PostgresStoreAccess(target: target, logger: Self.quiet)
        var reports = 0
        for client in (0..<bench.clients).map({ "h\($0)" }) {
            let fromSQLite = try sqlite.clientReport(client: client, at: end, recent: 5).map { JSONOutput.text($0) }
            let fromPostgres = try access.clientReport(client: client, at: end, recent: 5).map { JSONOutput.text($0) }
            XCTAssertEqual(fromPostgres, fromSQLite, "client show \(client)")
            if fromSQLite != nil { reports += 1 }
        }
        XCTAssertGreaterThan(reports, bench.clients / 2, "the reports compared")
        print("  client show: \(reports) clients' reports compared")
        // `vigil client list`, likewise.
        let caseload = JSONOutput.text(try sqlite.caseload(at: end))
        XCTAssertEqual(JSONOutput.text(try access.caseload(at: end)), caseload, "client list")
        XCTAssertEqual(
            JSONOutput.text(try access.caseload(at: end, minimum: .moderate)),
            JSONOutput.text(try sqlite.caseload(at: end, minimum: .moderate)), "client list --tier moderate")
        print("  client list: \(try sqlite.caseload(at: end).count) lines compared")
        // What `vigil api` shows (worklist, a task, an event's presence, /metrics, status), likewise.
        let worklist = try sqlite.worklist(WorklistFilter(limit: 100_000), at: end)
        XCTAssertGreaterThan(worklist.count, 0, "the history left open tasks to compare")
        XCTAssertEqual(
            JSONOutput.text(try access.worklist(WorklistFilter(limit: 100_000), at: end)), JSONOutput.text(worklist),
            "worklist")
        let first = try XCTUnwrap(worklist.first)
        for filter in [WorklistFilter(route: first.route, limit: 50), WorklistFilter(client: first.client)] {
            XCTAssertEqual(
                JSONOutput.text(try access.worklist(filter, at: end)),
                JSONOutput.text(try sqlite.worklist(filter, at: end)), "worklist of \(filter)")
        }
        XCTAssertEqual(try access.task(first.task)?.client, first.client)
        XCTAssertEqual(try access.task(first.task)?.state.rawValue, first.state)
        XCTAssertNil(try access.task("t-0000000000000000"))
        let event = try XCTUnwrap(try sqlite.history(client: first.client, through: end).events.first?.checkIn.id)
        XCTAssertTrue(try sqlite.hasEvent(event, ofClientOfTask: first.task))
        XCTAssertTrue(try access.hasEvent(event, ofClientOfTask: first.task))
        XCTAssertFalse(try access.hasEvent("no-such-event", ofClientOfTask: first.task))
        XCTAssertFalse(try access.hasEvent(event, ofClientOfTask: "t-0000000000000000"))
        XCTAssertEqual(try access.metrics(at: end), try sqlite.metrics(at: end), "/metrics")
        XCTAssertEqual(try access.status(), try sqlite.status(), "status")
        print("  worklist: \(worklist.count) open tasks compared; metrics and status equal")
        // `vigil report` and `vigil replay`'s history, likewise (sequence numbers aside: PostgreSQL's
        // may skip a value a conflicting insert took).
        XCTAssertEqual(
            JSONOutput.text(try access.supervisorReport(from: nil, to: end, byClient: true)),
            JSONOutput.text(try sqlite.supervisorReport(from: nil, to: end, byClient: true)), "report")
        func stored(_ history: StoredHistory) -> [String] {
            history.events.map { "\($0.committedAt) \($0.checkIn.client) \($0.checkIn.id)" }
        }
        let history = try sqlite.history(client: nil, through: end)
        XCTAssertEqual(stored(try access.history(client: nil, through: end)), stored(history), "replay's history")
        XCTAssertEqual(
            stored(try access.history(client: first.client, through: end)),
            stored(try sqlite.history(client: first.client, through: end)), "replay's history of one client")
        print("  report and replay: \(history.events.count) check-ins in the history compared")

        print(
            "store conformance: \(written.checkIns) check-ins (\(written.byKind)), \(bench.days * 24) hourly commits and ticks: SQLite \(Int(sqliteTook * 1000)) ms, PostgreSQL \(Int(postgresTook * 1000)) ms"
        )
        for (table, sql) in Self.tables.sorted(by: { $0.key < $1.key }) {
            let result = try postgres.psql(sql)
            XCTAssertEqual(result.status, 0, "\(table): \(result.output)")
            let postgresRows = result.output.split(separator: "\n").map(String.init).sorted()
            let expected = (sqliteRows[table] ?? []).sorted()
            XCTAssertFalse(expected.isEmpty, "\(table): the history wrote nothing to compare")
            XCTAssertEqual(postgresRows.count, expected.count, "\(table): rows on PostgreSQL vs SQLite")
            let differing = zip(postgresRows, expected).filter { $0 != $1 }.prefix(3)
            XCTAssertTrue(differing.isEmpty, "\(table) differs, e.g. (postgres, sqlite): \(Array(differing))")
            print("  \(table): \(expected.count) rows, identical: \(differing.isEmpty)")
        }
    }

    /// 8,000 check-ins of 2,500 clients (the events' rows take three PostgreSQL statements), the
    /// 100th repeated as is and the 201st's id reused with other content.
    static func largeCommit(pack: RulePack, at end: Timestamp) throws -> [PendingEvent] {
        let decoder = CheckInDecoder(vocabulary: pack.vocabulary)
        let formatter = ISO8601DateFormatter()
        let start = Double(end.microseconds / 1_000_000 - 3_600)
        var bodies: [String] = []
        for index in 0..<8_000 {
            let at: String = formatter.string(from: Date(timeIntervalSince1970: start + Double(index % 3_000)))
            let kind = index % 40 == 0 ? "crisis_call" : "checkin"
            let client = "large-\(index % 2_500)"
            bodies.append(
                #"{"id":"large-\#(index)","client":"\#(client)","at":"\#(at)","source":"peer","kind":"\#(kind)"}"#)
        }
        bodies.append(bodies[100])
        bodies.append(bodies[201].replacingOccurrences(of: #""kind":"checkin""#, with: #""kind":"ed_visit""#))
        return try bodies.map { body in
            let decoded = try decoder.decode(Array(body.utf8), now: end)
            return PendingEvent(checkIn: decoded.checkIn, digest: decoded.digest, body: body, origin: "large")
        }
    }

    /// Each table the daemon writes, one text line per row, in SQL both backends run alike (scores
    /// to a thousandth; NULL as `-`).
    static let tables: [String: String] = [
        "events": line("events", "client", "id", "at", "kind", "source", "digest", "ingested_at"),
        "evaluations": line(
            "evaluations v JOIN events e ON e.seq = v.event_seq", "e.client", "e.id", "v.fired", score("v.score"),
            "v.tier", "v.ended"),
        "absences": line("absences", "client", "rule", "at", "fired", score("score"), "tier", "decided_at"),
        "episodes": line(
            "episodes", "client", "number", "tier", "opened_at", "closed_at", "held_until", "domains",
            "watch_until"),
        "tasks": line(
            "tasks", "id", "client", "episode", "slot", "kind", "tier", score("score"), "route", "instruction",
            "reasons", "about", "created_at", "deliver_at", "due", "state", "next_attempt_at", "cancel_reason",
            "resolved_at", "resolved_by", "contact_attempts", "notice_pending", "plan", "acted_by"),
        "programs": line(
            "programs", "client", "number", "started_at", "extended_at", "episode", "contacts", "last_delivery",
            "stopped_at", "stop_reason"),
        "clients": line(
            "clients", "id", "first_at", "last_at", "events", score("score"), "tier", "scored_at", "absence_due"),
    ]

    static func line(_ from: String, _ columns: String...) -> String {
        "SELECT " + columns.map { "coalesce(CAST(\($0) AS TEXT), '-')" }.joined(separator: " || '|' || ")
            + " FROM \(from)"
    }

    static func score(_ column: String) -> String { "CAST(round(\(column) * 1000) AS BIGINT)" }
}
