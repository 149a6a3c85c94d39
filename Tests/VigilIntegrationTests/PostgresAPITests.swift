import Foundation
import XCTest

/// `vigil api` on a node whose store is PostgreSQL, through the real binaries and a real
/// PostgreSQL 15: it answers 503 until a daemon has created the schema, then hands check-ins and
/// acts to the daemon through the spool and shows what PostgreSQL holds (worklist, client,
/// caseload, /metrics), as `vigil report` and `vigil replay` do; a store configuration that can
/// never work is refused at start (exit 78).
final class PostgresAPITests: XCTestCase {
    func testTheFrontDoorOfANodeOnPostgreSQL() throws {
        let harness = try Harness()
        let postgres = try PostgresServer(passwordFileIn: harness.root)
        defer { postgres.stop() }
        let api = try APIHarness(harness: harness)
        let store = """
            store:
              backend: postgres
              url: \(postgres.url)
              password_file: \(postgres.passwordFile)

            """
        // The API logs in as a role that may only read (docs/scale-out.md), granted before the
        // daemon creates the tables.
        let apiPassword = harness.root + "/api-pg.password"
        try "api-\(UUID().uuidString)\n".write(toFile: apiPassword, atomically: true, encoding: .utf8)
        chmod(apiPassword, 0o600)
        let secret = try String(contentsOfFile: apiPassword, encoding: .utf8).trimmingCharacters(in: .newlines)
        for sql in [
            "CREATE ROLE vigil_api LOGIN PASSWORD '\(secret)'", "GRANT CONNECT ON DATABASE vigil TO vigil_api",
            "GRANT USAGE ON SCHEMA public TO vigil_api",
            "ALTER DEFAULT PRIVILEGES FOR ROLE vigil IN SCHEMA public GRANT SELECT ON TABLES TO vigil_api",
        ] {
            let done = try postgres.psql(sql)
            XCTAssertEqual(done.status, 0, "\(sql): \(done.output)")
        }
        let apiURL = postgres.url.replacingOccurrences(of: "postgres://vigil@", with: "postgres://vigil_api@")
        let config = try String(contentsOfFile: harness.configPath, encoding: .utf8)
            .replacingOccurrences(
                of: "  rate_per_minute: 10000\n",
                with:
                    "  rate_per_minute: 10000\n  store: {backend: postgres, url: \"\(apiURL)\", password_file: api-pg.password}\n"
            )
        XCTAssertTrue(config.contains("vigil_api@"), config)
        try (config + store).write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        let writer = try api.token("intake-app", scopes: "submit")
        let reader = try api.token("supervisor", scopes: "read")
        let counselor = try api.token("counselor.rivera", scopes: "read,act")

        // Before any daemon has created the schema: check-ins are taken (they wait in the spool),
        // views answer 503.
        let server = try api.start()
        defer { _ = server.stop() }
        XCTAssertEqual(try api.request("GET", "/v1/worklist", token: reader).status, 503)
        let screening = ResponsePlanTests.highScreening(id: "s1", client: "c-pg", at: ResponsePlanTests.time(-60))
        XCTAssertEqual(try api.post("/v1/checkins", token: writer, json: screening).status, 202)
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try eventually(timeout: 30, "the plan enqueued in PostgreSQL") {
            // psql, not value(): until the daemon has migrated, there is no table to count.
            try postgres.psql("SELECT count(*) FROM tasks WHERE client = 'c-pg'").output
                .trimmingCharacters(in: .whitespacesAndNewlines) == "\(ResponsePlanTests.highPlanSize)"
        }

        // The worklist is PostgreSQL's open tasks.
        let worklist = try api.request("GET", "/v1/worklist", token: reader)
        XCTAssertEqual(worklist.status, 200, "\(worklist)")
        let entries = worklist.json["tasks"] as? [[String: Any]] ?? []
        let open = try postgres.value(
            "SELECT count(*) FROM tasks WHERE state IN ('pending', 'claimed', 'delivered', 'dead')")
        XCTAssertEqual("\(entries.count)", open)
        let escalation = try XCTUnwrap(entries.first { $0["kind"] as? String == "escalation" }?["task"] as? String)

        // An act through the API reaches PostgreSQL as the daemon applies it, naming who acted.
        XCTAssertEqual(try api.post("/v1/tasks/\(escalation)/take", token: counselor, json: "{}").status, 202)
        XCTAssertEqual(try api.post("/v1/tasks/\(escalation)/ack", token: counselor, json: "{}").status, 202)
        try eventually(timeout: 30, "the ack applied") {
            try postgres.value("SELECT state || ' ' || coalesce(acted_by, '') FROM tasks WHERE id = '\(escalation)'")
                == "resolved counselor.rivera"
        }
        XCTAssertEqual(try api.post("/v1/tasks/\(escalation)/ack", token: counselor, json: "{}").status, 409)
        XCTAssertEqual(try api.post("/v1/tasks/t-0000000000000000/ack", token: counselor, json: "{}").status, 404)

        // The client and the caseload as `vigil client` shows them from the same store.
        let client = try api.request("GET", "/v1/clients/c-pg", token: reader)
        XCTAssertEqual(client.status, 200, "\(client)")
        let shown = try harness.run(["client", "show", "c-pg", "--json"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let report = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], shown.stdout)
        XCTAssertEqual(client.json["tier"] as? String, "high", client.body)
        XCTAssertEqual(client.json["tier"] as? String, report["tier"] as? String)
        let caseload = try api.request("GET", "/v1/clients", token: reader)
        XCTAssertEqual(caseload.status, 200, "\(caseload)")
        XCTAssertTrue(caseload.body.contains("c-pg"), caseload.body)

        // /metrics counts what PostgreSQL holds.
        let scrape = try api.request("GET", "/metrics", port: api.metricsPort)
        XCTAssertEqual(scrape.status, 200)
        var samples: [String: Double] = [:]
        for line in scrape.body.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { samples[String(parts[0])] = value }
        }
        XCTAssertEqual(
            samples["vigil_checkins_stored_total"], Double(try postgres.value("SELECT count(*) FROM events")))
        XCTAssertEqual(samples["vigil_clients{tier=\"high\"}"], 1, scrape.body)
        let resolved = try postgres.value("SELECT count(*) FROM tasks WHERE state = 'resolved' AND kind = 'escalation'")
        XCTAssertEqual(samples["vigil_tasks{state=\"resolved\",kind=\"escalation\"}"], Double(resolved), scrape.body)
        let tasks = samples.filter { $0.key.hasPrefix("vigil_tasks{") }.values.reduce(0, +)
        XCTAssertEqual(tasks, Double(try postgres.value("SELECT count(*) FROM tasks")), "every task in one series")

        // The supervisor's report and a replay read the same store.
        let supervisor = try harness.run(["report", "--json"])
        XCTAssertEqual(supervisor.status, 0, supervisor.stderr)
        let figures = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(supervisor.stdout.utf8)) as? [String: Any], supervisor.stdout)
        XCTAssertEqual(
            "\((figures["tasks"] as? [String: Any])?["created"] ?? "none")",
            try postgres.value("SELECT count(*) FROM tasks"), supervisor.stdout)
        let replay = try harness.run(["replay", "--rules", Harness.repository + "/Rules", "--json"])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        let replayed = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any], replay.stdout)
        XCTAssertEqual(
            "\(replayed["check_ins"] ?? "none")", try postgres.value("SELECT count(*) FROM events"), replay.stdout)

        // The API's login can read the store and nothing more.
        let write = try runCommand(
            [
                postgres.bin + "/psql", "-X", "-q", "-At", "-h", "127.0.0.1", "-p", "\(postgres.port)", "-U",
                "vigil_api",
                "-d", "vigil", "-c", "UPDATE tasks SET state = 'resolved'",
            ], environment: ["PGPASSWORD": secret])
        XCTAssertNotEqual(write.status, 0, "the API's role wrote the store: \(write.output)")
        XCTAssertTrue(write.output.contains("permission denied"), write.output)

        // A store configuration that can never work is refused before listening, in plain words.
        _ = server.stop()
        try (config.replacingOccurrences(of: apiURL, with: "postgres://vigil_api@127.0.0.1:1/") + store)
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        let refused = try harness.run(["api"])
        XCTAssertEqual(refused.status, 78, "\(refused)")
        XCTAssertTrue(refused.stderr.contains("no database"), refused.stderr)
    }

    /// A database server that accepts connections and never answers (a partition, a hung host)
    /// holds the views (and acts, which read their task first) only: check-ins are still taken into the spool while every
    /// cooperative thread's worth of views waits on the store, and `/healthz` answers.
    func testAHungStoreHoldsNoCheckIn() throws {
        let harness = try Harness()
        let api = try APIHarness(harness: harness)
        // Listening, never accepting: the kernel completes the handshake, nothing ever answers.
        let (silent, port) = try boundLoopbackSocket()
        defer { close(silent) }
        XCTAssertEqual(listen(silent, 64), 0)
        let passwordFile = harness.root + "/pg.password"
        try "secret\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        chmod(passwordFile, 0o600)
        let config = try String(contentsOfFile: harness.configPath, encoding: .utf8)
        try
            (config
            + "store: {backend: postgres, url: \"postgres://vigil@127.0.0.1:\(port)/vigil?sslmode=disable\", password_file: pg.password}\n")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        let writer = try api.token("intake-app", scopes: "submit")
        let reader = try api.token("supervisor", scopes: "read")
        let server = try api.start()
        defer { server.crash() }

        // More views than Swift has cooperative threads here, each waiting on the silent server.
        let views = ProcessInfo.processInfo.activeProcessorCount + 2
        let answered = Answered()
        let worklist = api.base + "/v1/worklist"
        for _ in 0..<views {
            Thread {
                _ = try? runCommand([
                    "curl", "-s", "-o", "/dev/null", "--max-time", "120", "-H", "Authorization: Bearer \(reader)",
                    worklist,
                ])
                answered.add()
            }.start()
        }
        // A view is waiting on the store before the check-in is sent: the API's connection is taken
        // off the silent listener's queue (and kept, never answered); the other views wait behind it.
        XCTAssertEqual(fcntl(silent, F_SETFL, fcntl(silent, F_GETFL) | O_NONBLOCK), 0)
        var held: Int32 = -1
        defer { if held >= 0 { close(held) } }
        try eventually(timeout: 20, "the API connecting to the store for a view") {
            held = accept(silent, nil, nil)
            return held >= 0
        }
        Thread.sleep(forTimeInterval: 0.5)
        let screening = ResponsePlanTests.highScreening(id: "s1", client: "c-hung", at: ResponsePlanTests.time(-60))
        let taken = try api.post("/v1/checkins", token: writer, json: screening)
        XCTAssertEqual(taken.status, 202, "\(taken)")
        XCTAssertEqual(answered.count, 0, "the check-in was taken while every view still waited")
        XCTAssertEqual(harness.names(in: harness.new).count, 1, "the check-in is in the spool for the daemon")
        XCTAssertEqual(try api.request("GET", "/healthz").status, 200)
    }
}

/// How many requests have been answered, counted from the threads that sent them.
private final class Answered: @unchecked Sendable {
    private let lock = NSLock()
    private var answered = 0
    var count: Int { lock.withLock { answered } }
    func add() { lock.withLock { answered += 1 } }
}
