import Foundation
import XCTest

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
}
