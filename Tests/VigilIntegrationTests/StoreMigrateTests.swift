import Foundation
import XCTest

/// `vigil store migrate`: a real daemon's SQLite store copied into a real PostgreSQL 15 (started
/// by `PostgresServer`), compared row by row, table by table; and the refusals: a target that is
/// not empty, a password in the URL, a wrong password, a server that is not there, a migration
/// lock that another process holds.
final class StoreMigrateTests: XCTestCase {
    /// Every table the daemon and the notifier write, with high and imminent clients (superseded
    /// tasks), a recovery plan, a refused file, delivered tasks and private notes with characters
    /// COPY escapes: the copy equals the source in every row and column, the identity sequences
    /// continue after the copied rows, and the schema's version is recorded.
    func testTheCopyEqualsTheSQLiteStoreRowByRow() throws {
        let harness = try Harness()
        let postgres = try PostgresServer(passwordFileIn: harness.root)
        defer { postgres.stop() }
        try harness.configureNotifier(
            "channels:\n  done: {type: exec, command: [/bin/true], timeout: 5s}\ndefault_channel: done")
        let daemon = try harness.startDaemon()
        let notifier = try harness.startNotifier()
        let at = ResponsePlanTests.time(-600)
        var lines = (0..<4).map { ResponsePlanTests.highScreening(id: "h\($0)", client: "c-\($0)", at: at) }
        lines.append(
            AftercareTests.plan(
                id: "p0", client: "c-1", at: ResponsePlanTests.time(-900), warningSigns: ["secrecy"],
                support: #"{"role":"sponsor","ref":"dir-sponsor-1","channel":"phone"}"#, coping: "walk\\tthen call",
                crisisSteps: "line one\\nline two \\\\ back", note: "ünïcödé \\r and tabs\\t"))
        try harness.drop("batch.jsonl", lines.joined(separator: "\n") + "\n")
        try harness.drop("refused.json", "{\"id\": ")
        try eventually("the high plans stored") { try harness.count("events") == lines.count }
        // Later than the batch, so that the imminent plan supersedes the high one's tasks.
        lines.append(ResponsePlanTests.imminentScreening(id: "i0", client: "c-0", at: ResponsePlanTests.time(-300)))
        try harness.drop("imminent.json", lines[lines.count - 1])
        try eventually("stored and planned") {
            try harness.count("events") == lines.count && harness.count("rejected") == 1
                && harness.tasks().contains { $0["state"] as? String == "delivered" }
        }
        XCTAssertEqual(daemon.stop(), 0)
        XCTAssertEqual(notifier.stop(), 0)

        let result = try harness.run([
            "store", "migrate", "--to", postgres.url, "--password-file", postgres.passwordFile,
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("each count verified"), result.stderr)
        XCTAssertFalse(result.stderr.contains(postgres.password) || result.stdout.contains(postgres.password))

        let source = try sqliteTables(harness)
        let copy = try postgresTables(postgres, tables: Array(source.keys))
        var compared: [String] = []
        for (table, rows) in source.sorted(by: { $0.key < $1.key }) {
            let copied = copy[table] ?? []
            XCTAssertEqual(copied.count, rows.count, "\(table): row count")
            XCTAssertTrue(result.stdout.contains(table), "the copied count of \(table) printed")
            for (index, (row, copiedRow)) in zip(rows, copied).enumerated()
            where !NSDictionary(dictionary: row).isEqual(to: copiedRow) {
                // Names the columns only: a body holds a private note.
                let differing = row.keys.filter { key in
                    !((copiedRow[key] as? NSObject)?.isEqual(row[key]) ?? (row[key] is NSNull))
                }
                XCTFail("\(table): row \(index) differs in \(differing.sorted())")
                break
            }
            compared.append("\(table) \(rows.count)")
        }
        for table in ["events", "evaluations", "episodes", "tasks", "clients", "rejections", "rulesets", "programs"] {
            XCTAssertGreaterThan(source[table]?.count ?? 0, 0, "the scenario fills \(table)")
        }
        let states = Set((source["tasks"] ?? []).compactMap { $0["state"] as? String })
        XCTAssertTrue(
            states.isSuperset(of: ["delivered", "cancelled", "pending"]), "tasks in several states: \(states)")
        XCTAssertEqual(try postgres.value("SELECT string_agg(version::text, ',') FROM vigil_migrations"), "1,2,3,4")
        // The next event stored in PostgreSQL takes the next seq, not one already copied.
        let nextSeq = try postgres.value(
            "INSERT INTO events (id, client, at, kind, source, digest, body, origin, ingested_at) VALUES ('n', 'c-new', 0, 'checkin', 'peer', 'd', '{}', 'test', 0) RETURNING seq"
        )
        XCTAssertEqual(nextSeq, "\(lines.count + 1)")
        print("store migrate: every row of \(compared.joined(separator: ", ")) equal in PostgreSQL")
    }

    /// The refusals, each in plain words with the right exit code, leaving the target as it was:
    /// a store already holding rows, a password inline in the URL (never echoed), a wrong password
    /// (the server's own words), a missing password file, a port where no server listens.
    func testEachRefusalIsNamedAndLeavesTheTargetAsItWas() throws {
        let harness = try Harness()
        let postgres = try PostgresServer(passwordFileIn: harness.root)
        defer { postgres.stop() }
        let daemon = try harness.startDaemon()
        try harness.drop(
            "high.json", ResponsePlanTests.highScreening(id: "h", client: "c-1", at: ResponsePlanTests.time(-60)))
        try eventually("stored") { try harness.count("events") == 1 }
        XCTAssertEqual(daemon.stop(), 0)
        let migrate = { (url: String, file: String) in
            try harness.run(["store", "migrate", "--to", url, "--password-file", file])
        }
        XCTAssertEqual(try migrate(postgres.url, postgres.passwordFile).status, 0)
        let tasks = try postgres.value("SELECT count(*) FROM tasks")

        let again = try migrate(postgres.url, postgres.passwordFile)
        XCTAssertEqual(again.status, 78, again.stderr)
        XCTAssertTrue(again.stderr.contains("events already holds 1 rows"), again.stderr)
        XCTAssertTrue(again.stderr.contains("tasks already holds \(tasks) rows"), again.stderr)
        XCTAssertEqual(try postgres.value("SELECT count(*) FROM events"), "1", "nothing copied twice")

        let inline = try migrate(
            "postgres://vigil:\(postgres.password)@127.0.0.1:\(postgres.port)/vigil", postgres.passwordFile)
        XCTAssertEqual(inline.status, 78, inline.stderr)
        XCTAssertTrue(inline.stderr.contains("the URL holds a password"), inline.stderr)
        XCTAssertFalse(inline.stderr.contains(postgres.password), "the password is never echoed")

        let unverified = try migrate(
            postgres.url(database: "vigil").replacingOccurrences(of: "disable", with: "verify-ca"),
            postgres.passwordFile)
        XCTAssertEqual(unverified.status, 78, unverified.stderr)
        XCTAssertTrue(
            unverified.stderr.contains("sslmode 'verify-ca' is not supported: disable or require"), unverified.stderr)

        let wrong = harness.root + "/wrong.password"
        try "not-it\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        let refused = try migrate(postgres.url(database: "postgres"), wrong)
        XCTAssertEqual(refused.status, 69, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("password authentication failed"), refused.stderr)

        let missing = try migrate(postgres.url, harness.root + "/no-such-file")
        XCTAssertEqual(missing.status, 78, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("cannot read \(harness.root)/no-such-file"), missing.stderr)

        let nobody = try migrate(
            "postgres://vigil@127.0.0.1:\(try freeLoopbackPort())/vigil?sslmode=disable", postgres.passwordFile)
        XCTAssertEqual(nobody.status, 69, nobody.stderr)
        XCTAssertTrue(nobody.stderr.contains("cannot connect"), nobody.stderr)
        XCTAssertEqual(try postgres.value("SELECT count(*) FROM tasks"), tasks, "the target as it was")
        print(
            "store migrate refused: a non-empty target (exit 78), a password in the URL (78, not echoed), an unsupported sslmode (78), a wrong password (69), a missing password file (78), no server (69)"
        )
    }

    /// A process holding the schema's migration lock (here a psql session; in life a node migrating
    /// a large store, or one that hung) is waited for 30 s, not forever: the copy then exits 69
    /// naming the wait, leaves the target as it was, and succeeds once the lock is let go.
    func testAMigrationLockHeldElsewhereIsWaitedForBoundedThenNamed() throws {
        let harness = try Harness()
        let postgres = try PostgresServer(passwordFileIn: harness.root)
        defer { postgres.stop() }
        let daemon = try harness.startDaemon()
        XCTAssertEqual(daemon.stop(), 0)
        // The migration lock's key: "vigil" in ASCII (`PostgresSchema.lockKey`).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: postgres.bin + "/psql")
        holder.arguments = [
            "-X", "-q", "-h", "127.0.0.1", "-p", "\(postgres.port)", "-U", "vigil", "-d", "vigil", "-c",
            "SELECT pg_advisory_lock(\(0x76_69_67_69_6c)), pg_sleep(300)",
        ]
        holder.environment = ["PGPASSWORD": postgres.password]
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        defer { holder.terminate() }
        try eventually(timeout: 20, "the lock held") {
            try postgres.value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == "1"
        }

        let started = Date()
        let blocked = try harness.run(
            ["store", "migrate", "--to", postgres.url, "--password-file", postgres.passwordFile], timeout: 120)
        let waited = Date().timeIntervalSince(started)
        XCTAssertEqual(blocked.status, 69, blocked.stderr)
        XCTAssertTrue(blocked.stderr.contains("held the schema's migration lock for 30 s"), blocked.stderr)
        XCTAssertGreaterThanOrEqual(waited, 29, "it waited for the lock's holder first")
        XCTAssertLessThan(waited, 90, "and not forever")
        XCTAssertEqual(
            try postgres.value("SELECT to_regclass('events') IS NULL"), "t", "nothing created while the lock was held")

        XCTAssertEqual(
            try postgres.value(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted"), "1")
        let copied = try harness.run([
            "store", "migrate", "--to", postgres.url, "--password-file", postgres.passwordFile,
        ])
        XCTAssertEqual(copied.status, 0, copied.stderr)
        print(
            "store migrate waited \(Int(waited)) s for a migration lock held elsewhere, exited 69 naming it, then copied"
        )
    }

    /// Every table of the SQLite store as rows of column → value, in primary-key order (python's
    /// sqlite3: its floats print exactly).
    func sqliteTables(_ harness: Harness) throws -> [String: [[String: Any]]] {
        let script = """
            import json, sqlite3, sys
            db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
            out = {}
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'"):
                key = [r[1] for r in sorted((r for r in db.execute(f'PRAGMA table_info({table})') if r[5]), key=lambda r: r[5])]
                cursor = db.execute(f"SELECT * FROM {table} ORDER BY {', '.join(key)}")
                names = [d[0] for d in cursor.description]
                out[table] = [dict(zip(names, row)) for row in cursor]
            print(json.dumps(out))
            """
        let (status, output) = try runCommand(["python3", "-c", script, harness.state + "/vigil.sqlite"])
        XCTAssertEqual(status, 0, output)
        return try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [[String: Any]]], output)
    }

    /// The same tables in PostgreSQL, as JSON (its floats print exactly too).
    func postgresTables(_ postgres: PostgresServer, tables: [String]) throws -> [String: [[String: Any]]] {
        var result: [String: [[String: Any]]] = [:]
        for table in tables {
            let key = try postgres.value(
                "SELECT string_agg(a.attname, ', ' ORDER BY array_position(i.indkey, a.attnum)) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '\(table)'::regclass AND i.indisprimary"
            )
            let json = try postgres.value("SELECT coalesce(json_agg(t ORDER BY \(key)), '[]') FROM \(table) t")
            result[table] = try XCTUnwrap(
                JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]], "\(table): \(json)")
        }
        return result
    }
}
