import Foundation
import GRDB
import Logging
import PostgresNIO
import VigilCore
import VigilPostgres
import VigilShell
import XCTest

/// One suite, two stores: the notifier's queue (`DeliveryQueue`) on a real SQLite file and on a
/// real PostgreSQL 15 (`PostgresServer`) behaves the same: claims in order under a lease, outcomes
/// recorded only under the lease, fallbacks, overdue escalations, end notices, renewals, and
/// concurrent claims that never take one task twice. Skips loudly (PostgreSQL half only) when no
/// server can be started.
final class DeliveryQueueConformanceTests: XCTestCase {
    /// Escalations first, then queue order; due tasks only; a claimed task is not claimed again until
    /// its lease runs out; an outcome recorded under a lost lease changes nothing.
    func testClaimsInOrderUnderALease() async throws {
        try await onEachStore { store in
            try store.insert("f1", kind: "follow_up", next: 100)
            try store.insert("e1", kind: "escalation", next: 200)
            try store.insert("f2", kind: "follow_up", next: 50)
            try store.insert("e9", kind: "escalation", next: 10_000)
            let first = try await store.queue.claim(
                dueBy: at(1_000), leaseUntil: at(5_000), limit: 10, excluding: [], skipping: 0
            ) { _ in .take }
            XCTAssertEqual(first.map(\.id), ["e1", "f2", "f1"], store.name)
            XCTAssertTrue(first.allSatisfy { $0.state == .claimed && $0.attempts == 1 }, store.name)
            XCTAssertEqual(Set(first.compactMap(\.leaseToken)).count, 3, "\(store.name): a fresh token per task")
            let leased = try await store.queue.claim(
                dueBy: at(1_000), leaseUntil: at(5_000), limit: 10, excluding: [], skipping: 0
            ) { _ in .take }
            XCTAssertEqual(leased.map(\.id), [], "\(store.name): leased tasks are not claimed again")
            let again = try await store.queue.claim(
                dueBy: at(6_000), leaseUntil: at(9_000), limit: 10, excluding: [], skipping: 0
            ) { _ in .take }
            // Every lease ended at the same instant: escalations first, then in the order enqueued.
            XCTAssertEqual(again.map(\.id), ["e1", "f1", "f2"], "\(store.name): claimed again once the lease ran out")
            XCTAssertEqual(again.first?.attempts, 2, store.name)
            let stale = try await store.queue.delivered(first[0], channel: "hook", at: at(6_100), renewAt: nil)
            XCTAssertFalse(stale, "\(store.name): the first lease was lost")
            XCTAssertEqual(try store.state("e1"), "claimed", store.name)
            let recorded = try await store.queue.delivered(again[0], channel: "hook", at: at(6_100), renewAt: nil)
            XCTAssertTrue(recorded, store.name)
            XCTAssertEqual(try store.state("e1"), "delivered", store.name)
        }
    }

    /// The notifier's admission: taken, skipped (left pending) or the claim stops; tasks in flight
    /// in this process are never offered.
    func testAdmissionSkipsStopsAndExcludes() async throws {
        try await onEachStore { store in
            for index in 0..<5 { try store.insert("e\(index)", kind: "escalation", next: Int64(100 + index)) }
            var offered: [String] = []
            let claimed = try await store.queue.claim(
                dueBy: at(1_000), leaseUntil: at(5_000), limit: 10, excluding: ["e0"], skipping: 10
            ) { candidate in
                offered.append(candidate.id)
                switch candidate.id {
                case "e2": return .skip
                case "e4": return .stop
                default: return .take
                }
            }
            XCTAssertEqual(offered, ["e1", "e2", "e3", "e4"], store.name)
            XCTAssertEqual(claimed.map(\.id), ["e1", "e3"], store.name)
            XCTAssertEqual(try store.state("e2"), "pending", "\(store.name): a skipped task stays pending")
            XCTAssertEqual(try store.state("e0"), "pending", store.name)
        }
    }

    /// A retry moves the task back with its error; a dead escalation enqueues one fallback in the same
    /// transaction (and another after a second death); a dead follow-up has none.
    func testRetryDeadAndFallback() async throws {
        try await onEachStore { store in
            try store.insert("e1", kind: "escalation", next: 100)
            try store.insert("f1", kind: "follow_up", next: 100)
            let claimed = try await store.queue.claim(
                dueBy: at(1_000), leaseUntil: at(5_000), limit: 10, excluding: [], skipping: 0
            ) { _ in .take }
            let (escalation, followUp) = (claimed[0], claimed[1])
            let retried = try await store.queue.retry(escalation, channel: "hook", error: "HTTP 500", next: at(2_000))
            XCTAssertTrue(retried, store.name)
            XCTAssertEqual(try store.state("e1"), "pending", store.name)
            XCTAssertEqual(try store.text("SELECT last_error FROM tasks WHERE id = 'e1'"), "HTTP 500", store.name)
            let reclaimed = try await store.queue.claim(
                dueBy: at(2_000), leaseUntil: at(7_000), limit: 1, excluding: [], skipping: 0
            ) { _ in .take }
            XCTAssertEqual(reclaimed.map(\.id), ["e1"], store.name)
            let died = try await store.queue.dead(reclaimed[0], channel: "hook", error: "gave up", at: at(2_100))
            XCTAssertTrue(died.recorded, store.name)
            let fallback = try XCTUnwrap(died.fallback, store.name)
            XCTAssertEqual(
                try store.text("SELECT slot || ' ' || about || ' ' || state FROM tasks WHERE id = '\(fallback)'"),
                "fallback:e1 e1 pending", store.name)
            let twice = try await store.queue.dead(reclaimed[0], channel: "hook", error: "gave up", at: at(2_200))
            XCTAssertFalse(twice.recorded, "\(store.name): recorded once, under its lease")
            let deadFollowUp = try await store.queue.dead(followUp, channel: "hook", error: "gave up", at: at(2_100))
            XCTAssertTrue(deadFollowUp.recorded, store.name)
            XCTAssertNil(deadFollowUp.fallback, "\(store.name): outreach has no fallback (it is escalated as overdue)")
            XCTAssertEqual(try store.count("SELECT count(*) FROM tasks WHERE slot LIKE 'fallback:%'"), 1, store.name)
        }
    }

    /// An outreach task still open past its due time and grace, or dead, raises one overdue
    /// escalation to the overdue route, once.
    func testOverdueEscalationsAreRaisedOnce() async throws {
        try await onEachStore { store in
            try store.insert("late", kind: "follow_up", next: 100, due: 1_000)
            try store.insert("early", kind: "follow_up", next: 100, due: 900_000_000)
            try store.insert("failed", kind: "caring_contact", next: 100, due: 900_000_000, state: "dead")
            let grace = TimeSpan.seconds(1)
            let raised = try await store.queue.raiseOverdue(
                at: at(1_000 + 1_000_001), grace: grace, route: "supervisor")
            XCTAssertEqual(Set(raised.map(\.slot)), ["overdue:late", "overdue:failed"], store.name)
            XCTAssertTrue(raised.allSatisfy { $0.route == "supervisor" && $0.kind == .overdue }, store.name)
            let again = try await store.queue.raiseOverdue(at: at(3_000_000), grace: grace, route: "supervisor")
            XCTAssertEqual(again.map(\.slot), [], "\(store.name): once per task")
            XCTAssertEqual(try store.count("SELECT count(*) FROM tasks WHERE kind = 'overdue'"), 2, store.name)
        }
    }

    /// A delivered alert is renewed when due; a task resolved while its delivery was in flight keeps
    /// where it went and its channel hears that it ended, once.
    func testRenewalsAndEndNotices() async throws {
        try await onEachStore { store in
            try store.insert("e1", kind: "escalation", next: 100)
            try store.insert("e2", kind: "escalation", next: 100)
            let claimed = try await store.queue.claim(
                dueBy: at(1_000), leaseUntil: at(5_000), limit: 10, excluding: [], skipping: 0
            ) { _ in .take }
            _ = try await store.queue.delivered(claimed[0], channel: "am", at: at(1_100), renewAt: at(2_000))
            let due = try await store.queue.dueRenewals(at: at(2_500), limit: 10)
            XCTAssertEqual(due.map(\.id), ["e1"], store.name)
            try await store.queue.renewed("e1", next: at(9_000))
            let none = try await store.queue.dueRenewals(at: at(2_500), limit: 10)
            XCTAssertEqual(none.map(\.id), [], store.name)

            try store.execute("UPDATE tasks SET state = 'resolved' WHERE id = 'e2'")
            let late = try await store.queue.delivered(claimed[1], channel: "am", at: at(1_200), renewAt: nil)
            XCTAssertFalse(late, store.name)
            XCTAssertEqual(try store.text("SELECT channel FROM tasks WHERE id = 'e2'"), "am", store.name)
            let notices = try await store.queue.pendingNotices(limit: 10)
            XCTAssertEqual(notices.map(\.id), ["e2"], store.name)
            try await store.queue.noticeSent("e2")
            let sent = try await store.queue.pendingNotices(limit: 10)
            XCTAssertEqual(sent.map(\.id), [], store.name)
        }
    }

    /// Claims racing each other (several notifiers) never take one task twice, and together take them all.
    func testConcurrentClaimsTakeEachTaskOnce() async throws {
        try await onEachStore { store in
            for index in 0..<120 { try store.insert("t\(index)", kind: "escalation", next: Int64(index)) }
            let queue = store.queue
            var seen: [String] = []
            var rounds = 0
            while seen.count < 120 && rounds < 50 {
                rounds += 1
                let batches = try await withThrowingTaskGroup(of: [String].self) { group in
                    for _ in 0..<6 {
                        group.addTask {
                            try await queue.claim(
                                dueBy: at(1_000), leaseUntil: at(900_000), limit: 15, excluding: [], skipping: 0
                            ) { _ in .take }.map(\.id)
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
                seen += batches
            }
            XCTAssertEqual(seen.count, Set(seen).count, "\(store.name): a task claimed twice")
            XCTAssertEqual(Set(seen).count, 120, store.name)
            XCTAssertEqual(try store.count("SELECT count(*) FROM tasks WHERE attempts <> 1"), 0, store.name)
            print("\(store.name): 120 tasks claimed by 6 racing claimers in \(rounds) rounds, each once")
        }
    }
}

/// A time `µs` microseconds after the epoch.
extension DeliveryQueueConformanceTests {
    /// `vigil queue`'s operations: list (by state, by client, in queue order, limited), show,
    /// retry a dead task, cancel with a reason (a delivered one gets its end announced), and the
    /// refusals (no such task; a state the action does not apply to) leave the task as it was.
    func testOperatorsListShowRetryAndCancel() async throws {
        try await onEachStore { store in
            try store.insert("p1", kind: "follow_up", next: 100)
            try store.insert("d1", kind: "escalation", next: 200, state: "dead")
            try store.insert("v1", kind: "caring_contact", next: 300, state: "delivered")
            try store.execute("UPDATE tasks SET attempts = 1 WHERE id = 'v1'")
            let all = try store.operations.list(states: nil, client: nil, limit: 10)
            XCTAssertEqual(all.map(\.id), ["p1", "d1", "v1"], store.name)
            XCTAssertEqual(
                try store.operations.list(states: [.dead, .delivered], client: nil, limit: 10).map(\.id), ["d1", "v1"],
                store.name)
            XCTAssertEqual(try store.operations.list(states: nil, client: "c-v1", limit: 10).map(\.id), ["v1"])
            XCTAssertEqual(try store.operations.list(states: nil, client: nil, limit: 1).map(\.id), ["p1"])
            XCTAssertEqual(try store.operations.show("d1").route, "crisis-team", store.name)
            XCTAssertThrowsError(try store.operations.show("nope"), store.name) { error in
                XCTAssertEqual((error as? QueueError)?.exitStatus, .noInput, "\(store.name): \(error)")
            }
            try store.operations.retryNow("d1", at: at(5_000))
            XCTAssertEqual(try store.state("d1"), "pending", store.name)
            XCTAssertEqual(try store.text("SELECT next_attempt_at FROM tasks WHERE id = 'd1'"), "5000", store.name)
            try store.operations.cancel("v1", reason: "reached in person", at: at(6_000))
            XCTAssertEqual(try store.state("v1"), "cancelled", store.name)
            XCTAssertEqual(
                try store.text("SELECT cancel_reason || ' ' || notice_pending FROM tasks WHERE id = 'v1'"),
                "reached in person 1", "\(store.name): the channel hears the task ended")
            XCTAssertThrowsError(try store.operations.retryNow("v1", at: at(7_000)), store.name) { error in
                XCTAssertEqual((error as? QueueError)?.exitStatus, .dataError, "\(store.name): \(error)")
            }
            XCTAssertEqual(try store.state("v1"), "cancelled", "\(store.name): a refusal changes nothing")
        }
    }
}

private func at(_ microseconds: Int64) -> Timestamp { Timestamp(microseconds: microseconds) }

/// One store under test: its queue and raw SQL on its tables (the same SQL on both).
struct QueueStore {
    let name: String
    let queue: any DeliveryQueue
    /// What `vigil queue` does by hand.
    let operations: any QueueOperator
    let execute: (String) throws -> Void
    let text: (String) throws -> String?

    func count(_ sql: String) throws -> Int { Int(try text(sql) ?? "") ?? -1 }
    func state(_ id: String) throws -> String? { try text("SELECT state FROM tasks WHERE id = '\(id)'") }

    /// A task of its own client, `next` its next attempt (and delivery) time.
    func insert(_ id: String, kind: String, next: Int64, due: Int64 = 0, state: String = "pending") throws {
        try execute(
            """
            INSERT INTO tasks (id, client, episode, slot, kind, tier, score, route, instruction, reasons,
                created_at, deliver_at, due, state, next_attempt_at)
            VALUES ('\(id)', 'c-\(id)', 1, '\(id)', '\(kind)', 'high', 7.5, 'crisis-team', 'call the client', '[]',
                0, \(next), \(due), '\(state)', \(next))
            """)
    }
}

extension DeliveryQueueConformanceTests {
    /// Runs `body` on a fresh SQLite store, then on a fresh PostgreSQL one.
    func onEachStore(_ body: (QueueStore) async throws -> Void) async throws {
        let harness = try Harness()
        let path = harness.root + "/queue.sqlite"
        let store = try EventStore(path: path, stages: [])
        let database = try DatabaseQueue(path: path)
        try await body(
            QueueStore(
                name: "sqlite", queue: TaskQueue(store: store), operations: TaskQueue(store: store),
                execute: { sql in try database.write { try $0.execute(sql: sql) } },
                text: { sql in
                    try database.read { db in
                        switch try DatabaseValue.fetchOne(db, sql: sql)?.storage {
                        case .int64(let value): "\(value)"
                        case .double(let value): "\(value)"
                        case .string(let value): value
                        case .blob, .null, nil: nil
                        }
                    }
                }))

        let postgres = try PostgresServer.forPostgresHalf(of: "the queue conformance suite", secretsIn: harness.root)
        defer { postgres.stop() }
        let target = try PostgresTarget(url: postgres.url, passwordFile: postgres.passwordFile)
        let logger = Logger(label: "conformance")
        try await PostgresSchema.migrate(target, logger: logger)
        let client = PostgresClient(configuration: target.clientConfiguration)
        let running = Task { await client.run() }
        defer { running.cancel() }
        try await body(
            QueueStore(
                name: "postgres", queue: PostgresTaskQueue(client: client, target: target, logger: logger),
                operations: try PostgresStoreAccess(target: target, logger: logger),
                execute: { sql in
                    let result = try postgres.psql(sql)
                    guard result.status == 0 else { throw HarnessError("psql: \(result.output)") }
                },
                text: { sql in
                    let result = try postgres.psql(sql)
                    guard result.status == 0 else { throw HarnessError("psql: \(result.output)") }
                    let value = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
                    return value.isEmpty ? nil : value
                }))
    }
}
