import Foundation
import XCTest

@testable import VigilPostgres
@testable import VigilShell

/// The queries the notifier runs every poll or second, and the read of open tasks in every commit,
/// are each served by an index: none scans the queue, which holds every task ever planned. (A scan
/// of it every second was found by the load suite: it cost CPU, and its page-cache churn grew the
/// notifier's memory.)
final class QueryPlanTests: XCTestCase {
    func testTheNotifiersRecurringQueriesNeverScanTheQueue() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try eventually("the store created") { try harness.count("events") == 0 }
        XCTAssertEqual(daemon.stop(), 0)
        let queries = [
            ("claimable", TaskQueue.claimable, "tasks_claimable"),
            ("claimable escalations", TaskQueue.claimableEscalations, "tasks_claimable_escalations"),
            ("late outreach", TaskQueue.lateOutreach, "tasks_open_outreach"),
            ("dead outreach", TaskQueue.deadOutreach, "tasks_dead_outreach"),
            ("notices", TaskQueue.notices, "tasks_notices"),
            ("renewals", TaskQueue.renewals, "tasks_renewals"),
        ]
        for (name, condition, index) in queries {
            let (status, output) = try runCommand([
                "python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); q='EXPLAIN QUERY PLAN SELECT * FROM tasks WHERE '+sys.argv[2]; [print(r[3]) for r in c.execute(q, [0]*q.count('?'))]",
                harness.state + "/vigil.sqlite", condition,
            ])
            XCTAssertEqual(status, 0, output)
            let plan = output.split(separator: "\n").map(String.init)
            XCTAssertTrue(plan.contains { $0.contains("INDEX \(index)") }, "\(name) uses \(index): \(plan)")
            XCTAssertFalse(plan.contains { $0.hasPrefix("SCAN tasks") && !$0.contains("INDEX") }, "\(name): \(plan)")
            XCTAssertFalse(plan.contains { $0.contains("TEMP B-TREE") }, "\(name) sorts in the index's order: \(plan)")
        }
    }

    /// Every commit reads its clients' open tasks (`StoredClient.openTasks`, the statement itself):
    /// through the index of open tasks only, so the read does not grow with a client's history of
    /// cancelled and resolved tasks (through `tasks_by_client` it visited all of them).
    func testACommitsReadOfOpenTasksVisitsOpenTasksOnly() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try eventually("the store created") { try harness.count("events") == 0 }
        XCTAssertEqual(daemon.stop(), 0)
        let (status, output) = try runCommand([
            "python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print(r[3]) for r in c.execute('EXPLAIN QUERY PLAN '+sys.argv[2], ['[\"c-1\"]'])]",
            harness.state + "/vigil.sqlite", StoredClient.openTasksQuery(listing: SQLiteSession.listedTexts),
        ])
        XCTAssertEqual(status, 0, output)
        let plan = output.split(separator: "\n").map(String.init)
        XCTAssertTrue(plan.contains { $0.contains("INDEX tasks_open_by_client") }, "\(plan)")
        XCTAssertFalse(plan.contains { $0.hasPrefix("SCAN tasks") }, "\(plan)")
    }

    /// The same read on PostgreSQL (the statement in PostgreSQL's form), on a queue shaped like a
    /// long-running one: 500 clients with 200 closed and 10 open tasks each, analyzed. The planner
    /// reads the open tasks through `tasks_open_by_client`, which it can only do while the
    /// statement's state list implies the index's predicate.
    func testACommitsReadOfOpenTasksVisitsOpenTasksOnlyOnPostgres() throws {
        let harness = try Harness()
        let postgres = try PostgresServer.forPostgresHalf(of: "QueryPlanTests", secretsIn: harness.root)
        defer { postgres.stop() }
        let daemon = try harness.startDaemon()
        XCTAssertEqual(daemon.stop(), 0)
        let migrated = try harness.run([
            "store", "migrate", "--to", postgres.url, "--password-file", postgres.passwordFile,
        ])
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        let filled = try postgres.psql(
            """
            INSERT INTO tasks (id, client, episode, slot, kind, tier, score, route, instruction, reasons,
                created_at, deliver_at, due, state, next_attempt_at)
            SELECT 't-' || g, 'c-' || (g % 500), 1, 's-' || g, 'follow_up', 'high', 0, 'crisis-team', '', '[]',
                0, 0, g, CASE WHEN g % 21 = 0 THEN 'pending' ELSE 'cancelled' END, 0
            FROM generate_series(1, 105000) AS g;
            ANALYZE tasks
            """)
        XCTAssertEqual(filled.status, 0, filled.output)
        let clients = JSONOutput.text((0..<50).map { "c-\($0)" })
        let statement = StoredClient.openTasksQuery(listing: PostgresSession.listedTexts)
            .replacingOccurrences(of: "?", with: "'\(clients)'")
        let (status, output) = try postgres.psql("EXPLAIN " + statement)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("tasks_open_by_client"), output)
        XCTAssertFalse(output.contains("Seq Scan on tasks"), output)
    }
}
