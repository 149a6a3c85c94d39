import Foundation
import XCTest

/// `vigil replay` through the real binary, over a store the real daemon filled from its spool.
final class ReplayTests: XCTestCase {
    /// A check-in with `signs`, observed `hours` before now.
    static func signs(id: String, client: String, hours: Double, _ signs: [String]) -> String {
        let list = signs.map { "\"\($0)\"" }.joined(separator: ",")
        return checkIn(
            id: id, client: client, at: ResponsePlanTests.time(-hours * 3600),
            extra: #","signs":[\#(list)],"note":"private words of \#(id)""#)
    }

    /// Drops each file in turn and waits until the daemon has stored (and evaluated) it, so that
    /// every file is its own commit; then stops the daemon.
    static func ingest(_ files: [(name: String, content: String, events: Int)], harness: Harness) throws {
        let daemon = try harness.startDaemon()
        var stored = 0
        for file in files {
            try harness.drop(file.name, file.content)
            stored += file.events
            try eventually("\(file.name) stored and evaluated") {
                try harness.query("SELECT count(*) FROM evaluations") == ["\(stored)"]
            }
        }
        XCTAssertEqual(daemon.stop(), 0)
    }

    /// `vigil replay ARGS --json` as a dictionary; fails the test on another exit status.
    static func replay(_ harness: Harness, _ arguments: [String]) throws -> [String: Any] {
        let result = try harness.run(["replay"] + arguments + ["--json"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertFalse(result.stdout.contains("private words"), "the note never appears")
        guard let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw HarnessError("replay printed no JSON object: \(result)")
        }
        return object
    }

    /// `vigil replay --decisions` through the pack in force equals every stored evaluation: the
    /// rules fired, the tier, and the score to the last bit (decoded by `JSONDecoder`, read from the
    /// file by Python, which prints a REAL exactly; SQLite's printf would not).
    static func assertReplayReproducesTheStoredEvaluations(
        _ harness: Harness, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        struct Replayed: Decodable {
            struct Evaluation: Decodable {
                var seq: Int
                var fired: String
                var score: Double
                var tier: String
            }
            struct Decisions: Decodable { var evaluations: [Evaluation] }
            var decisions: Decisions
        }
        let result = try harness.run(["replay", "--rules", Harness.repository + "/Rules", "--decisions", "--json"])
        XCTAssertEqual(result.status, 0, "\(result)", file: file, line: line)
        let replayed = try JSONDecoder().decode(Replayed.self, from: Data(result.stdout.utf8)).decisions.evaluations
        let rows = try harness.query(
            "SELECT event_seq || ' ' || fired || ' ' || tier FROM evaluations ORDER BY event_seq")
        let scores = try harness.query("SELECT score FROM evaluations ORDER BY event_seq")
        XCTAssertFalse(rows.isEmpty, file: file, line: line)
        XCTAssertEqual(replayed.map { "\($0.seq) \($0.fired) \($0.tier)" }, rows, file: file, line: line)
        XCTAssertEqual(replayed.map(\.score), scores.map { Double($0) ?? .nan }, file: file, line: line)
    }

    func testReplayThroughTheSamePackReproducesTheStoredEvaluationsAndTasks() throws {
        let harness = try Harness()
        let high = ResponsePlanTests.highScreening(id: "s1", client: "c-a", at: ResponsePlanTests.time(-5 * 3600))
        let imminent = ResponsePlanTests.imminentScreening(
            id: "s2", client: "c-a", at: ResponsePlanTests.time(-4 * 3600))
        // Observed before the imminent tasks were created, but within the 5 minutes of skew a contact
        // may have: it answers the earliest due outreach task.
        let contact = ResponsePlanTests.contact(
            id: "k1", client: "c-a", at: ResponsePlanTests.time(0), outcome: "reached"
        )
        .replacingOccurrences(of: #""source":"peer""#, with: #""source":"counselor""#)
        let batch = [
            Self.signs(id: "b1", client: "c-b", hours: 30, ["isolation"]),
            Self.signs(id: "b2", client: "c-b", hours: 20, ["isolation", "hopelessness"]),
            Self.signs(id: "b3", client: "c-c", hours: 10, ["romanticizing_use"]),
            Self.signs(id: "b4", client: "c-b", hours: 2, ["isolation", "hopelessness", "romanticizing_use"]),
            checkIn(id: "b5", client: "c-d", at: ResponsePlanTests.time(-3600), kind: "overdose"),
        ].joined(separator: "\n")
        try Self.ingest(
            [
                ("1.json", high, 1), ("2.jsonl", batch, 5), ("3.json", imminent, 1), ("4.json", contact, 1),
                ("5.json", Self.signs(id: "c1", client: "c-c", hours: 1, ["isolation", "hopelessness"]), 1),
            ], harness: harness)

        let replay = try Self.replay(harness, ["--rules", Harness.repository + "/Rules", "--decisions"])
        let decisions = try XCTUnwrap(replay["decisions"] as? [String: Any])
        XCTAssertEqual(try harness.query("SELECT count(*) FROM evaluations"), ["9"])
        try Self.assertReplayReproducesTheStoredEvaluations(harness)

        let tasks = (decisions["tasks"] as? [[String: Any]] ?? []).map { task in
            ["id", "client", "kind", "tier", "route", "created_at", "deliver_at", "due"].map { "\(task[$0] ?? "")" }
                .joined(separator: "|")
        }.sorted()
        let storedTasks = try harness.query(
            "SELECT id || '|' || client || '|' || kind || '|' || tier || '|' || route || '|' || created_at || '|' || deliver_at || '|' || due FROM tasks"
        ).sorted()
        XCTAssertGreaterThan(storedTasks.count, 12, "the history planned high, imminent and moderate tasks")
        XCTAssertEqual(tasks, storedTasks)
        let superseded = (decisions["superseded"] as? [String] ?? []).sorted()
        XCTAssertFalse(superseded.isEmpty, "the rise to imminent superseded the high plan's jobs")
        XCTAssertEqual(superseded, try harness.query("SELECT id FROM tasks WHERE state = 'cancelled'").sorted())
        XCTAssertEqual(
            try harness.query("SELECT count(*) FROM tasks WHERE state = 'resolved'"), ["1"],
            "the reached contact resolved one task")

        // Against itself: no difference.
        let comparison = try XCTUnwrap(replay["comparison"] as? [String: Any])
        XCTAssertEqual(comparison["only_candidate"] as? [String], [])
        XCTAssertEqual(comparison["only_against"] as? [String], [])
        XCTAssertEqual(comparison["tasks_gained"] as? Int, 0)
        XCTAssertEqual(comparison["tasks_lost"] as? Int, 0)
        XCTAssertEqual(replay["check_ins"] as? Int, 9)
        XCTAssertEqual(try harness.query("SELECT count(*) FROM evaluations"), ["9"], "replay wrote nothing")
    }

    func testAPackWithOneWeightChangedShowsExactlyTheExpectedDifferences() throws {
        let harness = try Harness()
        // Isolation alone weighs 8 (low); in the candidate 25, above moderate's 20.
        let candidate = harness.root + "/candidate"
        try FileManager.default.copyItem(atPath: Harness.repository + "/Rules", toPath: candidate)
        let file = candidate + "/warning-signs.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let original = "when: '\"isolation\" in signs'\n    weight: 8\n"
        XCTAssertTrue(text.contains(original))
        try text.replacingOccurrences(of: original, with: "when: '\"isolation\" in signs'\n    weight: 25\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        try Self.ingest(
            [
                ("1.json", Self.signs(id: "i1", client: "c-iso", hours: 3, ["isolation"]), 1),
                (
                    "2.json",
                    ResponsePlanTests.highScreening(id: "s1", client: "c-high", at: ResponsePlanTests.time(-2 * 3600)),
                    1
                ),
                ("3.json", Self.signs(id: "r1", client: "c-low", hours: 1, ["romanticizing_use"]), 1),
            ], harness: harness)

        let replay = try Self.replay(harness, ["--rules", candidate])
        let comparison = try XCTUnwrap(replay["comparison"] as? [String: Any])
        XCTAssertEqual(comparison["only_candidate"] as? [String], ["c-iso"])
        XCTAssertEqual(comparison["only_against"] as? [String], [])
        XCTAssertEqual((comparison["earlier"] as? [Any])?.count, 0)
        XCTAssertEqual((comparison["later"] as? [Any])?.count, 0)
        XCTAssertEqual(
            comparison["tasks_gained"] as? Int, 4, "the moderate plan: a caring contact, two follow-ups; a plan review")
        XCTAssertEqual(
            comparison["gained_by_kind"] as? [String: Int], ["caring_contact": 1, "follow_up": 2, "plan_review": 1])
        XCTAssertEqual(comparison["tasks_lost"] as? Int, 0)
        let mine = try XCTUnwrap(replay["candidate"] as? [String: Any])
        let theirs = try XCTUnwrap(comparison["against"] as? [String: Any])
        XCTAssertEqual(mine["escalations"] as? Int, 2)
        XCTAssertEqual(theirs["escalations"] as? Int, 1)
        // The load by risk domain: the screening's rise in suicide, isolation's in return to use; the
        // tasks by the domain whose plan wrote them (the program and the plan reviews: aftercare).
        func total(_ figures: [String: Any], _ key: String) -> [String: Int] {
            var sum: [String: Int] = [:]
            for day in figures["days"] as? [[String: Any]] ?? [] {
                for (name, count) in day[key] as? [String: Int] ?? [:] { sum[name, default: 0] += count }
            }
            return sum
        }
        XCTAssertEqual(total(mine, "escalations_by_domain"), ["suicide": 1, "return_to_use": 1])
        XCTAssertEqual(total(theirs, "escalations_by_domain"), ["suicide": 1])
        XCTAssertEqual(total(mine, "tasks_by_domain")["aftercare"], 12, "10 program messages, 2 plan reviews")
        XCTAssertEqual(total(mine, "tasks_by_domain")["return_to_use"], 3, "the moderate plan")
        func rule(_ figures: [String: Any], _ id: String) -> [Int] {
            let rules = figures["rules"] as? [[String: Any]] ?? []
            let entry = rules.first { $0["rule"] as? String == id }
            return [entry?["fired"] as? Int ?? -1, entry?["decisive"] as? Int ?? -1]
        }
        XCTAssertEqual(rule(mine, "isolation"), [1, 1], "fired once, and the rise needed it")
        XCTAssertEqual(rule(theirs, "isolation"), [1, 0])
        XCTAssertEqual(rule(mine, "romanticizing-use"), [1, 0])

        // --client limits the replay to one client's check-ins.
        let one = try Self.replay(harness, ["--rules", candidate, "--client", "c-high"])
        XCTAssertEqual(one["check_ins"] as? Int, 1)
        XCTAssertEqual((one["comparison"] as? [String: Any])?["tasks_gained"] as? Int, 0)
        // The text form names the difference too.
        let printed = try harness.run(["replay", "--rules", candidate])
        XCTAssertEqual(printed.status, 0, "\(printed)")
        XCTAssertTrue(printed.stdout.contains("escalated only by the candidate: c-iso"), printed.stdout)
        XCTAssertFalse(printed.stdout.contains("private words"))
    }

    func testLeadTimeAndBurdenOnAScriptedHistory() throws {
        let harness = try Harness()
        let day = 24.0
        // Lead time counts from the check-in that took the client from low to moderate or above,
        // even when the daemon met both in one batch (one rise, planned at the overdose's tier).
        // c-lead: high at -70 d, overdose 48 h later. c-fast: high at -50 d, crisis call 6 h later.
        // c-none: an ED visit at -45 d with nothing before it. c-calm: high at -40 d, then no outcome.
        let lines = [
            ResponsePlanTests.highScreening(id: "l1", client: "c-lead", at: ResponsePlanTests.time(-70 * day * 3600)),
            checkIn(id: "l2", client: "c-lead", at: ResponsePlanTests.time(-68 * day * 3600), kind: "overdose"),
            ResponsePlanTests.highScreening(id: "f1", client: "c-fast", at: ResponsePlanTests.time(-50 * day * 3600)),
            checkIn(
                id: "f2", client: "c-fast", at: ResponsePlanTests.time((-50 * day + 6) * 3600), kind: "crisis_call"),
            checkIn(id: "n1", client: "c-none", at: ResponsePlanTests.time(-45 * day * 3600), kind: "ed_visit"),
            ResponsePlanTests.highScreening(id: "c1", client: "c-calm", at: ResponsePlanTests.time(-40 * day * 3600)),
        ]
        try Self.ingest([("history.jsonl", lines.joined(separator: "\n"), lines.count)], harness: harness)

        let replay = try Self.replay(harness, ["--rules", Harness.repository + "/Rules"])
        let figures = try XCTUnwrap(replay["candidate"] as? [String: Any])
        let lead = try XCTUnwrap(figures["lead_time"] as? [String: Any])
        XCTAssertEqual(lead["outcomes"] as? Int, 3)
        XCTAssertEqual(lead["raised_before"] as? Int, 2)
        XCTAssertEqual(lead["not_raised"] as? Int, 1)
        XCTAssertEqual(lead["median_hours"] as? Double, 27, "the median of 6 h and 48 h")
        XCTAssertEqual(lead["distribution"] as? [String: Int], ["<24h": 1, "1-3d": 1, "none": 1])
        XCTAssertEqual(lead["by_kind"] as? [String: Int], ["overdose": 1, "crisis_call": 1, "ed_visit": 1])
        // Four episodes open; c-lead's and c-none's by their outcome itself (which counts as
        // following them), c-fast's followed 6 h later; c-calm's by nothing.
        let burden = try XCTUnwrap(figures["burden"] as? [String: Any])
        XCTAssertEqual(burden["escalations"] as? Int, 4)
        XCTAssertEqual(burden["followed_by_no_outcome"] as? Int, 1)
        XCTAssertEqual(burden["too_recent"] as? Int, 0)
        XCTAssertEqual(burden["share"] as? Double, 0.25)

        // A window that starts after c-lead's overdose counts the two later outcomes only.
        let later = try Self.replay(
            harness, ["--rules", Harness.repository + "/Rules", "--from", ResponsePlanTests.time(-60 * day * 3600)])
        let windowed = try XCTUnwrap((later["candidate"] as? [String: Any])?["lead_time"] as? [String: Any])
        XCTAssertEqual(windowed["outcomes"] as? Int, 2)
        XCTAssertEqual(windowed["median_hours"] as? Double, 6)
    }

    func testBenchReplayPrintsItsRateNextToItsFloor() throws {
        let harness = try Harness()
        let result = try harness.run(["bench", "replay", "--clients", "20", "--events", "30"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("(600 check-ins,"), result.stdout)
        for line in ["    replay ", "    floor ", "    ratio "] {
            XCTAssertTrue(result.stdout.contains(line), "\(line) in \(result.stdout)")
        }
    }

    func testBenchHistoryWritesASyntheticHistoryThatReplayReproduces() throws {
        let harness = try Harness()
        let result = try harness.run(["bench", "history", "--clients", "80", "--days", "21", "--dir", harness.root])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("SYNTHETIC history of 80 clients over 21 days"), result.stdout)
        let events = Int(try harness.query("SELECT count(*) FROM events").first ?? "") ?? 0
        XCTAssertGreaterThan(events, 80 * 21 / 3, "routine check-ins on about half the days")
        XCTAssertEqual(try harness.query("SELECT count(*) FROM evaluations"), ["\(events)"], "every one evaluated")
        for kind in ["screening", "contact", "missed_appointment"] {
            XCTAssertNotEqual(
                try harness.query("SELECT count(*) FROM events WHERE kind = '\(kind)'"), ["0"], "\(kind) in the history"
            )
        }
        XCTAssertNotEqual(try harness.query("SELECT count(*) FROM tasks"), ["0"], "rises planned tasks")
        XCTAssertEqual(
            try harness.query("SELECT count(*) FROM events WHERE body LIKE '%\"note\"%'"), ["0"], "no note is written")
        // The history was evaluated hour by hour by the decision stage; the replay agrees on every
        // evaluation (the absence timer's ticks, at each hour's end there, do not move scores).
        try Self.assertReplayReproducesTheStoredEvaluations(harness)
    }
}
