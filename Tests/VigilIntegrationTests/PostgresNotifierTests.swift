import Foundation
import XCTest

/// `vigil notify` on PostgreSQL (`store: {backend: postgres}`), through the real binary, a real
/// PostgreSQL 15 and a webhook receiver on loopback: two notifiers share one queue; a task
/// enqueued with `NOTIFY vigil_tasks` wakes them long before their poll; one notifier killed with
/// SIGKILL mid-run and the server restarted at once (`pg_ctl restart -m immediate`) lose nothing,
/// and every task is delivered, recorded once, and accepted once by its idempotency key.
final class PostgresNotifierTests: XCTestCase {
    func testTwoNotifiersShareTheQueueThroughAKillAndAServerRestart() throws {
        let harness = try Harness()
        let postgres = try PostgresServer(passwordFileIn: harness.root)
        defer { postgres.stop() }
        let receiver = try WebhookReceiver(in: harness)
        try postgres.configuration(receiver: receiver, poll: "20s")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        var first = try harness.start(["notify"], log: "notify-a.log")
        let second = try harness.start(["notify"], log: "notify-b.log")
        for notifier in [first, second] {
            try eventually("the notifier started: \(notifier.log)") { notifier.log.contains("vigil notifier started") }
        }
        XCTAssertEqual(
            try postgres.value("SELECT max(version) FROM vigil_migrations"), "4", "the notifier created the schema")
        // Past both notifiers' first claim: from now on only a wake-up (or a 20 s poll) finds work.
        Thread.sleep(forTimeInterval: 2)
        try enqueue(postgres, ids: ["wake-0"])
        try eventually(timeout: 10, "the task delivered on NOTIFY, well before the 20 s poll") {
            try postgres.value("SELECT state FROM tasks WHERE id = 'wake-0'") == "delivered"
        }

        let ids = (0..<300).map { "bulk-\($0)" }
        try enqueue(postgres, ids: ids)
        try eventually("deliveries under way") { receiver.acceptedKeys.count >= 60 }
        first.crash()
        try postgres.restart()
        // The restarted notifier polls every second: the dead one's claims are taken once their
        // lease runs out (nothing announces an expired lease), without waiting for a 20 s poll.
        let config = try String(contentsOfFile: harness.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "poll_interval: 20s", with: "poll_interval: 1s")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        first = try harness.start(["notify"], log: "notify-a.log")
        try eventually(timeout: 90, "every task delivered after the kill and the restart") {
            try postgres.value("SELECT count(*) FROM tasks WHERE state = 'delivered'") == "\(ids.count + 1)"
        }
        // Every notifier that ran is a node of the store, the killed one included (seen no more).
        let status = try harness.run(["status", "--json"])
        XCTAssertEqual(status.status, 0, status.stderr)
        let shown = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(shown["store"] as? String, "postgres")
        XCTAssertEqual(shown["location"] as? String, postgres.url)
        let nodes = try XCTUnwrap(shown["nodes"] as? [[String: Any]], status.stdout)
        XCTAssertEqual(nodes.count, 3, "two notifiers and the restarted one: \(status.stdout)")
        XCTAssertTrue(
            nodes.allSatisfy { $0["role"] as? String == "notify" && $0["last_seen"] is String }, status.stdout)
        let pids = Set(nodes.compactMap { $0["pid"] as? Int })
        XCTAssertTrue(
            pids.isSuperset(of: [first, second].map { Int($0.process.processIdentifier) }), status.stdout)
        let text = try harness.run(["status"])
        XCTAssertTrue(text.stdout.contains("store        postgres postgres://vigil@"), text.stdout)
        XCTAssertTrue(text.stdout.contains(" notify pid \(second.process.processIdentifier): last seen"), text.stdout)
        print("vigil status on the cluster:\n\(text.stdout)")
        XCTAssertEqual(first.stop(), 0, first.ending)
        XCTAssertEqual(second.stop(), 0, second.ending)
        // --once on PostgreSQL delivers what is due and ends its services (pool, listener, heartbeat),
        // also with a poll interval of seconds (it used to start a housekeeping round on every pass
        // and so never found none running).
        try config.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try enqueue(postgres, ids: ["once-0"])
        let once = try harness.run(["notify", "--once", "--log", "stderr"])
        XCTAssertEqual(once.status, 0, once.stderr)
        XCTAssertEqual(try postgres.value("SELECT state FROM tasks WHERE id = 'once-0'"), "delivered")

        let expected = Set(ids + ["wake-0", "once-0"])
        let accepted = receiver.acceptedKeys
        XCTAssertEqual(accepted.count, Set(accepted).count, "a key accepted twice")
        XCTAssertEqual(Set(accepted), expected, "every task accepted by its key")
        let arrivals = receiver.arrivals.compactMap { $0["arrived"] as? String }
        let repeated = arrivals.count - Set(arrivals).count
        XCTAssertLessThanOrEqual(repeated, 32, "only deliveries in flight when a notifier died may repeat")
        XCTAssertEqual(
            try postgres.value("SELECT count(*) FROM tasks WHERE attempts < 1 OR lease_token IS NOT NULL"), "0")
        let delivered = [second.log, first.log].map { $0.components(separatedBy: "delivered to team").count - 1 }
        print(
            "postgres notify: \(expected.count) tasks delivered by two notifiers through a SIGKILL and an immediate "
                + "server restart; \(repeated) redelivered under the same key, each accepted once; delivered by the surviving and the restarted notifier: \(delivered)"
        )
    }

    /// A server restart cuts off the notifier's transactions in flight: each fails at once and is
    /// retried on a new connection, and deliveries go on. (PostgresNIO never answers a query sent on
    /// a closed connection: the ROLLBACK that its `withTransaction` sent there made every restart
    /// stall deliveries until the operation's 10 s deadline.)
    func testTransactionsCutOffByAServerRestartFailAtOnce() throws {
        let harness = try Harness()
        let postgres = try PostgresServer(passwordFileIn: harness.root)
        defer { postgres.stop() }
        try """
        spool: spool
        state: state
        rules: \(Harness.repository)/Rules
        store: {backend: postgres, url: "\(postgres.url)", password_file: \(postgres.passwordFile)}
        notifier:
          channels: {log: {type: journal}}
          default_channel: log
          lease: 5s
          poll_interval: 1s

        """.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        let notifier = try harness.start(["notify"], log: "notify.log")
        try eventually("the notifier started: \(notifier.log)") { notifier.log.contains("vigil notifier started") }
        // A backlog the journal channel delivers one after another: nearly always a transaction is open.
        let backlog = 3000
        let inserted = try postgres.psql(
            """
            BEGIN;
            INSERT INTO tasks (id, client, episode, slot, kind, tier, score, route, instruction, reasons, created_at,
                deliver_at, due, state, next_attempt_at)
            SELECT 'backlog-' || g, 'c-backlog-' || g, 1, 'backlog-' || g, 'escalation', 'high', 7.5, 'crisis-team',
                'call', '[]', 0, 0, 0, 'pending', 0 FROM generate_series(1, \(backlog)) AS g;
            NOTIFY vigil_tasks;
            COMMIT;
            """)
        XCTAssertEqual(inserted.status, 0, inserted.output)
        func delivered() -> Int { notifier.log.components(separatedBy: "delivered to log").count - 1 }
        try eventually("deliveries under way") { delivered() >= 20 }
        for _ in 0..<3 {
            try postgres.restart()
            Thread.sleep(forTimeInterval: 0.5)
        }
        let beforeResuming = delivered()
        try eventually(timeout: 60, "deliveries going on after the restarts") {
            delivered() >= beforeResuming + 50 || delivered() == backlog
        }
        let outages = notifier.log.split(separator: "\n").filter { $0.contains(" critical ") || $0.contains(" error ") }
        XCTAssertFalse(notifier.log.contains("no answer within"), outages.joined(separator: "\n"))
        XCTAssertTrue(notifier.log.contains("the queue is writable again"), outages.joined(separator: "\n"))
        XCTAssertEqual(notifier.stop(), 0, notifier.ending)
        print(
            "postgres notify through three immediate server restarts: \(outages.count) outages logged, "
                + "\(delivered()) of \(backlog) delivered")
    }

    /// With `store: {backend: postgres}`, every command that reads or writes the store reports a
    /// server it cannot reach (69), never working on a local file nobody else sees; the notifier
    /// refuses a password in the URL (78, never echoed).
    func testCommandsRefuseAPostgresStoreTheyCannotUse() throws {
        let harness = try Harness()
        let passwordFile = harness.root + "/pg.password"
        try "secret\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile, 0o600)
        func configure(url: String) throws {
            try """
            spool: spool
            state: state
            rules: \(Harness.repository)/Rules
            store: {backend: postgres, url: "\(url)", password_file: pg.password}
            notifier:
              channels: {log: {type: journal}}
              default_channel: log

            """.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        }
        try configure(url: "postgres://vigil@127.0.0.1:\(try freeLoopbackPort())/vigil?sslmode=disable")
        for command in [
            ["serve", "--log", "stderr"], ["notify", "--once", "--log", "stderr"], ["status"], ["queue", "list"],
            ["client", "list"], ["report"], ["replay", "--rules", Harness.repository + "/Rules"],
        ] {
            let unreachable = try harness.run(command)
            XCTAssertEqual(unreachable.status, 69, "\(command): \(unreachable.stderr)")
            XCTAssertTrue(unreachable.stderr.contains("cannot connect"), "\(command): \(unreachable.stderr)")
        }
        try configure(url: "postgres://vigil:hunter2@127.0.0.1/vigil")
        let inline = try harness.run(["notify", "--once", "--log", "stderr"])
        XCTAssertEqual(inline.status, 78, inline.stderr)
        XCTAssertTrue(inline.stderr.contains("the URL holds a password"), inline.stderr)
        XCTAssertFalse(inline.stderr.contains("hunter2"), "the password echoed")
    }

    /// Tasks due now, inserted in one transaction that notifies the notifiers.
    func enqueue(_ postgres: PostgresServer, ids: [String]) throws {
        let values = ids.map {
            "('\($0)', 'c-\($0)', 1, '\($0)', 'escalation', 'high', 7.5, 'crisis-team', 'call', '[]', 0, 0, 0, 'pending', 0)"
        }
        let result = try postgres.psql(
            """
            BEGIN;
            INSERT INTO tasks (id, client, episode, slot, kind, tier, score, route, instruction, reasons, created_at,
                deliver_at, due, state, next_attempt_at) VALUES \(values.joined(separator: ","));
            NOTIFY vigil_tasks;
            COMMIT;
            """)
        XCTAssertEqual(result.status, 0, result.output)
    }
}
