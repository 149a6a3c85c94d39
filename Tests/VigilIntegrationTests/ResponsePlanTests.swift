import Foundation
import XCTest

/// Response plans through the real daemon, store and notifier: a rise in tier enqueues exactly the
/// plan's tasks (spaced from the moment of detection), contacts close the loop, unanswered
/// outreach turns overdue once.
final class ResponsePlanTests: XCTestCase {
    /// How many tasks the default policy plans for a rise to high in the suicide domain (and to
    /// imminent, whose plan replaces three of them), with the plan review a client without a recovery
    /// plan gets and the caring-contact program's 10 messages: see Rules/tests/plans.yaml.
    static let highPlanSize = 23
    static let imminentPlanSize = 23
    /// How many of the high plan's tasks are delivered at once: the escalation, the same-day
    /// assessment, the case manager's task and the plan review (the program's first caring contact
    /// comes a day later).
    static let highDeliveredAtOnce = 4

    /// A C-SSRS screening with thoughts and a method: tier high (see Rules/tests/cssrs.yaml).
    static func highScreening(id: String, client: String, at: String) -> String {
        checkIn(
            id: id, client: client, at: at, kind: "screening",
            extra:
                #","screening":{"wish_dead":true,"suicidal_thoughts":true,"method":true,"intent":false,"plan":false,"behavior_past_3_months":false},"note":"private words of \#(id)""#
        )
    }

    /// Suicidal behaviour in the past 3 months: tier imminent.
    static func imminentScreening(id: String, client: String, at: String) -> String {
        checkIn(
            id: id, client: client, at: at, kind: "screening",
            extra:
                #","screening":{"wish_dead":false,"suicidal_thoughts":false,"behavior_past_3_months":true},"note":"private words of \#(id)""#
        )
    }

    static func contact(id: String, client: String, at: String, outcome: String, task: String? = nil) -> String {
        let named = task.map { #","task":"\#($0)""# } ?? ""
        return checkIn(
            id: id, client: client, at: at, kind: "contact", extra: #","contact":{"outcome":"\#(outcome)"\#(named)}"#)
    }

    static func time(_ offset: TimeInterval, from date: Date = Date()) -> String {
        ISO8601DateFormatter().string(from: date.addingTimeInterval(offset))
    }

    static func date(_ text: Any?) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return (text as? String).flatMap(formatter.date)
    }

    /// Hours from a task's creation to `key`.
    static func hours(_ task: [String: Any], _ key: String) -> Double {
        guard let created = date(task["created"]), let other = date(task[key]) else { return .nan }
        return (other.timeIntervalSince(created) / 3600 * 100).rounded() / 100
    }

    func testARiseEnqueuesThePlanOnceAndContactsAndOverdueCloseTheLoop() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        // Observed 30 hours ago and arriving now: the windows count from detection, not from `at`.
        try harness.drop("s1.json", Self.highScreening(id: "s1", client: "c-plan", at: Self.time(-30 * 3600)))
        try eventually("the high plan enqueued") { try harness.tasks().count == Self.highPlanSize }
        var tasks = try harness.tasks()
        let plan = tasks.map {
            "\($0["kind"] as? String ?? "?") \(Self.hours($0, "deliver_at")) \(Self.hours($0, "due"))"
        }
        XCTAssertEqual(
            plan,
            [
                // The caring-contact program (day 1, week 1, months 1, 2, 3, 4, 6, 8, 10, 12; each due 3
                // days after delivery), the plan review (no recovery plan yet), then the high plan.
                "caring_contact 24.0 96.0", "caring_contact 168.0 240.0", "caring_contact 720.0 792.0",
                "caring_contact 1440.0 1512.0", "caring_contact 2160.0 2232.0", "caring_contact 2880.0 2952.0",
                "caring_contact 4320.0 4392.0", "caring_contact 5760.0 5832.0", "caring_contact 7200.0 7272.0",
                "caring_contact 8760.0 8832.0", "plan_review 0.0 72.0",
                "escalation 0.0 0.0", "follow_up 0.0 8.0", "follow_up 24.0 24.0",
                "peer_checkin 24.0 24.0", "follow_up 0.0 48.0", "peer_checkin 48.0 48.0", "follow_up 72.0 72.0",
                "peer_checkin 72.0 72.0", "peer_checkin 96.0 96.0", "peer_checkin 120.0 120.0",
                "peer_checkin 144.0 144.0", "peer_checkin 168.0 168.0",
            ])
        for task in tasks {
            XCTAssertEqual(task["state"] as? String, "pending")
            XCTAssertEqual(task["tier"] as? String, "high")
            XCTAssertEqual(task["client"] as? String, "c-plan")
            // A caring message carries no clinical reason (the minimum necessary); every other task
            // says what raised the tier.
            let caring = (task["slot"] as? String ?? "").hasPrefix("caring.")
            XCTAssertEqual(
                Set((task["reasons"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }),
                caring ? [] : ["cssrs-ideation", "cssrs-method"])
        }
        XCTAssertEqual(Set(tasks.compactMap { $0["id"] as? String }).count, Self.highPlanSize, "ids are distinct")

        // The tier holds at high through another check-in: the open episode absorbs it. A rise to
        // imminent plans that tier's jobs and supersedes the high plan's escalation and the calls at
        // 24 and 72 h (cancelled with their reason); the other jobs stay.
        try harness.drop(
            "s2.json", checkIn(id: "s2", client: "c-plan", at: Self.time(-20 * 3600), extra: #","measures":{"mood":5}"#)
        )
        try eventually("s2 stored") { try harness.count("events") == 2 }
        XCTAssertEqual(try harness.tasks().count, Self.highPlanSize, "no duplicate tasks while the tier holds")
        try harness.drop("s3.json", Self.imminentScreening(id: "s3", client: "c-plan", at: Self.time(-10 * 3600)))
        try eventually("the imminent plan added") { try harness.tasks().count == Self.highPlanSize + 3 }
        tasks = try harness.tasks()
        func line(_ task: [String: Any]) -> String {
            "\(task["kind"] as? String ?? "?") \(task["tier"] as? String ?? "?") \(task["route"] as? String ?? "?")"
        }
        XCTAssertEqual(
            tasks.suffix(3).map(line),
            ["escalation imminent crisis_clinician", "follow_up imminent counselor", "follow_up imminent counselor"])
        XCTAssertEqual(
            tasks.filter { $0["state"] as? String == "cancelled" }.map {
                line($0) + " " + ($0["cancel_reason"] as? String ?? "")
            },
            [
                "escalation high counselor superseded by imminent", "follow_up high counselor superseded by imminent",
                "follow_up high counselor superseded by imminent",
            ])

        // Contacts: a named `reached` resolves that task; an unnamed one from a counselor the earliest
        // due open outreach task a counselor may answer (the same-day assessment, not the program's
        // caring contacts, which are not sent yet); `no_answer` counts an attempt and leaves the
        // task open, due again a day later.
        let open = tasks.filter { $0["state"] as? String == "pending" }
        func openTask(_ kind: String, _ hours: Double) throws -> String {
            try XCTUnwrap(
                open.first { $0["kind"] as? String == kind && Self.hours($0, "deliver_at") == hours }?["id"] as? String)
        }
        let followUp72 = try openTask("follow_up", 72)
        try harness.drop(
            "k1.json",
            Self.contact(id: "k1", client: "c-plan", at: Self.time(-60), outcome: "reached", task: followUp72))
        let assessment = try openTask("follow_up", 0)
        try harness.drop(
            "k2.json",
            Self.contact(id: "k2", client: "c-plan", at: Self.time(-50), outcome: "reached")
                .replacingOccurrences(of: #""source":"peer""#, with: #""source":"counselor""#))
        try eventually("contacts stored") { try harness.count("events") == 5 }
        let followUp24 = try openTask("follow_up", 24)
        try harness.drop(
            "k3.json",
            Self.contact(id: "k3", client: "c-plan", at: Self.time(-40), outcome: "no_answer", task: followUp24))
        try eventually("k3 stored") { try harness.count("events") == 6 }
        let byID = Dictionary(uniqueKeysWithValues: try harness.tasks().map { ($0["id"] as? String ?? "", $0) })
        XCTAssertEqual(byID[followUp72]?["state"] as? String, "resolved")
        XCTAssertEqual(byID[followUp72]?["resolved_by"] as? String, "contact k1")
        XCTAssertEqual(byID[assessment]?["state"] as? String, "resolved")
        XCTAssertEqual(byID[assessment]?["resolved_by"] as? String, "contact k2")
        XCTAssertEqual(byID[followUp24]?["state"] as? String, "pending")
        XCTAssertEqual(byID[followUp24]?["contact_attempts"] as? Int, 1)

        // Unanswered: 29 h after detection (grace 4 h) the 24 h follow-up and the first peer check-in
        // are overdue, each escalated once to the supervisor (a superseded or resolved task is not).
        let created = try XCTUnwrap(Self.date(tasks[0]["created"]))
        let asOf = Self.time(29 * 3600, from: created)
        for _ in 0..<2 {
            let once = try harness.run(["notify", "--once", "--as-of", asOf, "--log", "stderr"])
            XCTAssertEqual(once.status, 0, "\(once)")
            XCTAssertFalse(once.stderr.contains("private words"))
        }
        let overdue = try harness.tasks().filter { $0["kind"] as? String == "overdue" }
        XCTAssertEqual(overdue.count, 2, "the 24 h follow-up and the first peer check-in, once each")
        XCTAssertTrue(overdue.contains { $0["about"] as? String == followUp24 })
        for task in overdue {
            XCTAssertEqual(task["route"] as? String, "supervisor")
            XCTAssertEqual(task["state"] as? String, "delivered", "delivered to the default (journal) channel")
        }
        XCTAssertFalse(overdue.contains { $0["about"] as? String == followUp72 }, "a resolved task is never overdue")
        let shown = try harness.run(["queue", "show", followUp24, "--json"])
        XCTAssertEqual(shown.status, 0)
        for key in ["id", "client", "kind", "state", "tier", "due", "attempts", "reasons"] {
            XCTAssertTrue(shown.stdout.contains("\"\(key)\":"), "queue show --json has \(key)")
        }
        for key in ["about", "cancel_reason", "dead_at", "next_attempt"] {
            XCTAssertTrue(shown.stdout.contains("\"\(key)\":null"), "an unset \(key) is null, not left out")
        }
        XCTAssertFalse(shown.stdout.contains("private words"), "a task never carries the note")
    }

    func testOperatorsAckRetryAndCancel() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try harness.drop("s1.json", Self.highScreening(id: "s1", client: "c-ops", at: Self.time(-60)))
        try eventually("the plan enqueued") { try harness.tasks().count == Self.highPlanSize }
        let ids = try harness.tasks().compactMap { $0["id"] as? String }
        XCTAssertEqual(try harness.run(["queue", "ack", ids[0], "--by", "ops.lead", "--wait", "20"]).status, 0)
        XCTAssertEqual(
            try harness.run(["queue", "cancel", ids[1], "--reason", "client moved to another program"]).status, 0)
        let again = try harness.run(["queue", "cancel", ids[1], "--reason", "twice"])
        XCTAssertEqual(again.status, 65, "a cancelled task cannot be cancelled again: \(again)")
        XCTAssertTrue(again.stderr.contains("it is cancelled"), again.stderr)
        XCTAssertEqual(try harness.run(["queue", "ack", "t-0000000000000000", "--by", "ops.lead"]).status, 66)
        let resolved = try harness.run(["queue", "list", "--state", "resolved", "--json"])
        XCTAssertTrue(
            resolved.stdout.contains(ids[0]) && resolved.stdout.contains("\"resolved_by\":\"ack ack-\(ids[0])-")
                && resolved.stdout.contains("\"acted_by\":\"ops.lead\""), resolved.stdout)
        let cancelled = try harness.run(["queue", "show", ids[1], "--json"])
        XCTAssertTrue(cancelled.stdout.contains("client moved to another program"), cancelled.stdout)
        XCTAssertEqual(
            try harness.run(["queue", "retry", ids[1]]).status, 65, "only dead or pending tasks are retried")
        XCTAssertEqual(try harness.run(["queue", "list", "--state", "bogus"]).status, 64)
    }

    func testALateEventNeitherClosesNorRestartsTheEpisode() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try harness.drop("s1.json", Self.highScreening(id: "s1", client: "c-late", at: Self.time(-30 * 3600)))
        try eventually("the high plan enqueued") { try harness.tasks().count == Self.highPlanSize }
        // A phone that syncs a check-in from before the screening, then an ordinary one.
        let routine = #","measures":{"mood":5}"#
        try harness.drop("late.json", checkIn(id: "late", client: "c-late", at: Self.time(-40 * 3600), extra: routine))
        try eventually("the late check-in stored") { try harness.count("events") == 2 }
        try harness.drop("s2.json", checkIn(id: "s2", client: "c-late", at: Self.time(-20 * 3600), extra: routine))
        try eventually("s2 stored") { try harness.count("events") == 3 }
        let tasks = try harness.tasks()
        XCTAssertEqual(tasks.count, Self.highPlanSize, "the tier held at high: no second plan")
        XCTAssertEqual(Set(tasks.compactMap { $0["episode"] as? Int }), [1])
    }

    func testAnAbsenceFiringAfterTheScoreDecayedOpensANewEpisode() throws {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: rules + "/warning-signs.yaml"))
        handle.seekToEndOfFile()
        handle.write(
            Data(
                """

                  - id: gone-quiet-test
                    summary: No check-in for 40 days
                    domain: engagement
                    absent:
                      match: kind == "checkin"
                      for: 40d
                    weight: 50
                    evidence: "a test rule: an absence that fires at any tier"

                """.utf8))
        handle.closeFile()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let day = 86_400.0
        let lines = [
            checkIn(id: "c1", client: "c-quiet", at: Self.time(-61 * day), extra: #","measures":{"mood":5}"#),
            Self.highScreening(id: "s1", client: "c-quiet", at: Self.time(-60 * day)),
        ]
        try harness.drop("batch.jsonl", lines.joined(separator: "\n") + "\n")
        // Episode 1 (high) opens; the screening's 30-day window ends; the silence 40 days after c1
        // fires (score 50, high) with the episode still recorded open: it closed in the quiet, so
        // this is episode 2.
        try eventually("episode 2's plan") { Set(try harness.tasks().compactMap { $0["episode"] as? Int }) == [1, 2] }
        XCTAssertTrue(daemon.log.contains("gone-quiet-test"))
    }
}
