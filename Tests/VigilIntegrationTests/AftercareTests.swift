import Foundation
import XCTest

/// The client's recovery plan, caring-contact programs, follow-up that ends, and the step-down watch,
/// through the real daemon, notifier, store and receivers.
final class AftercareTests: XCTestCase {
    static func time(_ offset: TimeInterval) -> String { ResponsePlanTests.time(offset) }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    /// A recovery plan check-in of `client`, with private texts.
    static func plan(
        id: String, client: String, at: String, warningSigns: [String], support: String, coping: String,
        crisisSteps: String, note: String
    ) -> String {
        let signs = warningSigns.map { "\"\($0)\"" }.joined(separator: ",")
        return checkIn(
            id: id, client: client, at: at, kind: "plan",
            extra: """
                ,"plan":{"warning_signs":[\(signs)],"support":[\(support)],"pathway":["mutual_help","clinical"],\
                "caring_contacts":{"consent":true,"channel":"text"},"coping":"\(coping)","crisis_steps":"\(crisisSteps)"},\
                "note":"\(note)"
                """)
    }

    /// A UTC hour range that excludes the next two hours (`HH:00-HH:00`).
    static func hoursExcludingNow() -> String {
        let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour!
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(two((hour + 3) % 24)):00-\(two((hour + 4) % 24)):00"
    }

    func testTheClientsOwnWarningSignCountsAndTheEscalationCarriesTheSupportEntryForTheHourButNoPrivateText() throws {
        let note = "NOTE-SECRET-slept-in-the-car"
        let coping = "COPING-SECRET-call-my-sister"
        let crisisSteps = "CRISIS-STEPS-SECRET-go-to-st-marys"
        let harness = try Harness()
        let receiver = try WebhookReceiver(in: harness)
        try harness.configureNotifier(
            """
            channels:
              team: {type: webhook, url: "\(receiver.url)", secret_file: \(receiver.secretPath), timeout: 2s}
            routes:
              - {match: {kind: escalation}, channel: team}
            default_channel: journal
            lease: 10s
            poll_interval: 50ms
            """)
        let daemon = try harness.startDaemon()
        let notifier = try harness.startNotifier()
        let support = """
            {"role":"sponsor","ref":"dir-sponsor-1","channel":"phone"},\
            {"role":"family","ref":"dir-family-2","channel":"text","hours":"\(Self.hoursExcludingNow())"}
            """
        try harness.drop(
            "plan.json",
            Self.plan(
                id: "p1", client: "c-plan", at: Self.time(-3600), warningSigns: ["secrecy"], support: support,
                coping: coping, crisisSteps: crisisSteps, note: note))
        try eventually("the plan stored") { try harness.count("events") == 1 }
        // A plan with a mistake and the same private texts: refused, and the .why names fields only.
        let refused = Self.plan(
            id: "p2", client: "c-plan", at: Self.time(-3500), warningSigns: ["secrecy"],
            support: #"{"role":"sponsor","ref":"5551234567","channel":"phone"}"#, coping: coping,
            crisisSteps: crisisSteps, note: note)
        try harness.drop("refused.json", refused)
        let sign = #","signs":["secrecy","talking_about_death"],"note":"\#(note)""#
        try harness.drop("a.json", checkIn(id: "a1", client: "c-plan", at: Self.time(-60), extra: sign))
        try harness.drop("b.json", checkIn(id: "b1", client: "c-none", at: Self.time(-60), extra: sign))
        try eventually("both escalations delivered (\(notifier.log.suffix(400)))") {
            Set(receiver.acceptedKeys).count == 2
        }
        let withPlan = Self.json(try harness.run(["client", "show", "c-plan", "--json"]).stdout)
        let without = Self.json(try harness.run(["client", "show", "c-none", "--json"]).stdout)
        func returnToUse(_ report: [String: Any]) -> Double {
            let domains = report["domains"] as? [[String: Any]] ?? []
            return domains.first { $0["domain"] as? String == "return_to_use" }?["score"] as? Double ?? -1
        }
        XCTAssertGreaterThan(returnToUse(withPlan), returnToUse(without), "the client's own warning sign counts more")
        XCTAssertEqual(returnToUse(withPlan), 15, accuracy: 0.5)
        XCTAssertEqual(returnToUse(without), 5, accuracy: 0.5)
        XCTAssertEqual((withPlan["plan"] as? [String: Any])?["warning_signs"] as? [String], ["secrecy"])

        let bodies = receiver.answered.compactMap { $0["body"] as? [String: Any] }
        let planned = try XCTUnwrap(bodies.first { $0["client"] as? String == "c-plan" })
        let brief = try XCTUnwrap(planned["plan"] as? [String: Any], "the escalation carries the plan's minimum")
        XCTAssertEqual(brief["pathway"] as? [String], ["mutual_help", "clinical"])
        XCTAssertEqual(brief["age_days"] as? Int, 0)
        let entries = brief["support"] as? [[String: String]] ?? []
        XCTAssertEqual(
            entries, [["role": "sponsor", "ref": "dir-sponsor-1", "channel": "phone"]], "only who fits the hour")
        let none = try XCTUnwrap(bodies.first { $0["client"] as? String == "c-none" })
        XCTAssertTrue(none["plan"] is NSNull, "no plan: null")
        let tasks = try harness.tasks()
        XCTAssertTrue(
            tasks.contains { $0["client"] as? String == "c-none" && $0["kind"] as? String == "plan_review" },
            "a client without a plan gets a plan review")
        XCTAssertFalse(
            tasks.contains { $0["client"] as? String == "c-plan" && $0["kind"] as? String == "plan_review" },
            "a fresh plan needs none")

        var outputs: [String] = []
        let escalation = try XCTUnwrap(planned["task"] as? String)
        for arguments in [
            ["client", "show", "c-plan"], ["client", "show", "c-plan", "--json"], ["queue", "list"],
            ["queue", "list", "--json"], ["queue", "show", escalation], ["queue", "show", escalation, "--json"],
            ["client", "list"], ["client", "list", "--json"], ["status", "--json"],
        ] {
            let result = try harness.run(arguments)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result)")
            outputs += [result.stdout, result.stderr]
        }
        XCTAssertTrue(outputs[0].contains("dir-sponsor-1"), "client show lists the support network")
        let submitted = try harness.run(["submit", "-"], stdin: refused)
        XCTAssertEqual(submitted.status, 65, "\(submitted)")
        outputs += [submitted.stdout, submitted.stderr]
        try eventually("the refused plan kept") {
            harness.names(in: harness.rejected).contains { $0.hasSuffix(".why") }
        }
        for name in harness.names(in: harness.rejected) where name.hasSuffix(".why") {
            let why = try String(contentsOfFile: harness.rejected + "/" + name, encoding: .utf8)
            XCTAssertTrue(why.contains("plan.support[0].ref"), why)
            outputs.append(why)
        }
        XCTAssertEqual(notifier.stop(), 0)
        XCTAssertEqual(daemon.stop(), 0)
        outputs += [daemon.log, notifier.log, try String(contentsOfFile: receiver.logPath, encoding: .utf8)]
        for output in outputs {
            for secret in [note, coping, crisisSteps] {
                XCTAssertFalse(output.contains(secret), "private text leaked: \(output.prefix(400))")
            }
        }
        XCTAssertEqual(
            try harness.query("SELECT count(*) FROM events WHERE body LIKE '%\(coping)%'"), ["1"], "the plan is stored")
    }

    /// The caring contacts delivered by `vigil notify --once --as-of` to the exec channel, by client
    /// (one file per delivery in `directory`).
    func delivered(_ directory: String) -> [String: [String]] {
        var byClient: [String: [String]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let payload = Self.json((try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "")
            guard payload["kind"] as? String == "caring_contact", let client = payload["client"] as? String,
                let task = payload["task"] as? String
            else { continue }
            byClient[client, default: []].append(task)
        }
        return byClient
    }

    func testAHighEpisodeStartsAYearOfCaringContactsDeliveredOnceEachUntilAnOptOut() throws {
        let harness = try Harness()
        let output = harness.root + "/caring"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: false)
        try harness.configureNotifier(
            """
            channels:
              texts: {type: exec, command: [/bin/sh, -c, "cat > \(output)/$$.json"], timeout: 5s}
            routes:
              - {match: {kind: caring_contact}, channel: texts}
            default_channel: journal
            lease: 10s
            poll_interval: 50ms
            """)
        var daemon = try harness.startDaemon()
        let start = Date()
        for client in ["c-year", "c-optout"] {
            try harness.drop(
                "\(client).json",
                ResponsePlanTests.highScreening(id: "s-\(client)", client: client, at: Self.time(-60)))
        }
        func programTasks(_ client: String) throws -> [[String: Any]] {
            try harness.tasks().filter {
                $0["client"] as? String == client && ($0["slot"] as? String ?? "").hasPrefix("caring.")
            }
        }
        try eventually("both programs planned") {
            try programTasks("c-year").count == 10 && programTasks("c-optout").count == 10
        }
        // The schedule, in days after the crisis: day 1, week 1, months 1, 2, 3, 4, 6, 8, 10, 12.
        let schedule: [Double] = [1, 7, 30, 60, 90, 120, 180, 240, 300, 365]
        for month in 0...13 {
            let days = Double(month) * 30 + 2
            if month == 7 {
                // A restart in the middle changes nothing: the program is in the queue and the store.
                XCTAssertEqual(daemon.stop(), 0)
                daemon = try harness.startDaemon()
            }
            if month == 3 {
                try harness.drop(
                    "optout.json",
                    ResponsePlanTests.contact(id: "o1", client: "c-optout", at: Self.time(0), outcome: "opted_out"))
                try eventually("the opt-out applied") {
                    try harness.query("SELECT count(*) FROM programs WHERE stopped_at IS NOT NULL") == ["1"]
                }
            }
            let asOf = ISO8601DateFormatter().string(from: start.addingTimeInterval(days * 86_400))
            let result = try harness.run(["notify", "--once", "--as-of", asOf, "--log", "stderr"])
            XCTAssertEqual(result.status, 0, "\(result)")
            let sent = delivered(output)
            let due = schedule.filter { $0 <= days }.count
            XCTAssertEqual(sent["c-year"]?.count ?? 0, due, "month \(month): the scheduled contacts, once each")
            XCTAssertEqual(Set(sent["c-year"] ?? []).count, sent["c-year"]?.count ?? 0, "never twice")
            XCTAssertEqual(
                sent["c-optout"]?.count ?? 0, schedule.filter { $0 <= min(days, 62) }.count,
                "month \(month): nothing after the opt-out")
        }
        XCTAssertEqual(daemon.stop(), 0)
        XCTAssertEqual(try programTasks("c-year").count, 10, "a restart planned nothing again")
        let optedOut = try programTasks("c-optout")
        XCTAssertEqual(optedOut.filter { $0["delivered_at"] is String }.count, 4, "sent up to month 2")
        let cancelled = optedOut.filter { $0["state"] as? String == "cancelled" }
        XCTAssertEqual(cancelled.count, 10, "every open message was cancelled, the 6 never sent among them")
        XCTAssertTrue(
            cancelled.allSatisfy { ($0["cancel_reason"] as? String ?? "").hasPrefix("opted out (contact o1)") },
            "\(cancelled)")
        let show = Self.json(try harness.run(["client", "show", "c-optout", "--json"]).stdout)
        let program = try XCTUnwrap(show["program"] as? [String: Any])
        XCTAssertEqual(program["remaining"] as? Int, 0)
        XCTAssertEqual(program["stop_reason"] as? String, "opted out (contact o1)")
    }

    func testThreeMissedCallsEndAFollowUpUnreachableWithOneSupervisorTaskAndEngagedEndsTheSeries() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try harness.drop(
            "s.json",
            checkIn(
                id: "m1", client: "c-fu", at: Self.time(-60), kind: "screening",
                extra: #","screening":{"wish_dead":true,"suicidal_thoughts":false,"behavior_past_3_months":false}"#))
        try eventually("the moderate plan enqueued") { try harness.tasks().count > 0 }
        let followUps = try harness.tasks().filter {
            $0["kind"] as? String == "follow_up" && $0["route"] as? String == "counselor"
        }
        let first = try XCTUnwrap(followUps.min { ($0["due"] as? String ?? "") < ($1["due"] as? String ?? "") })
        let id = try XCTUnwrap(first["id"] as? String)
        for (index, outcome) in ["no_answer", "left_message", "no_answer"].enumerated() {
            try harness.drop(
                "c\(index).json",
                ResponsePlanTests.contact(id: "a\(index)", client: "c-fu", at: Self.time(0), outcome: outcome, task: id)
            )
            try eventually("attempt \(index + 1) recorded") {
                try harness.query("SELECT contact_attempts FROM tasks WHERE id = '\(id)'") == ["\(index + 1)"]
            }
        }
        try eventually("the follow-up ended unreachable") {
            try harness.query("SELECT state || ' ' || cancel_reason FROM tasks WHERE id = '\(id)'")
                == ["cancelled unreachable after 3 attempts (contact a2)"]
        }
        let supervisors = try harness.tasks().filter { $0["route"] as? String == "supervisor" }
        XCTAssertEqual(supervisors.count, 1, "one supervisor task: \(supervisors)")
        try harness.drop(
            "e.json",
            checkIn(
                id: "e1", client: "c-fu", at: Self.time(0), kind: "contact",
                extra: #","contact":{"outcome":"engaged"}"#))
        try eventually("engaged ended the series") {
            try harness.query(
                "SELECT count(*) FROM tasks WHERE kind = 'follow_up' AND state IN ('pending', 'claimed', 'delivered')")
                == ["0"]
        }
        let ended = try harness.query(
            "SELECT DISTINCT cancel_reason FROM tasks WHERE cancel_reason LIKE 'follow-up ended:%'")
        XCTAssertEqual(ended, ["follow-up ended: the client is engaged in care (contact e1)"])
    }

    func testASecondRiseInsideTheWatchIsCaughtAtTheLoweredThresholdAndOutsideItAtTheNormalOne() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        // A high episode 40 days ago (on the watch now), and one 100 days ago (its watch is over).
        for (client, days) in [("c-watch", 40.0), ("c-past", 100.0)] {
            try harness.drop(
                "\(client)-1.json",
                checkIn(
                    id: "\(client)-1", client: client, at: Self.time(-days * 86_400),
                    extra: #","signs":["talking_about_death"]"#))
        }
        try eventually("the first episodes opened") { try harness.query("SELECT count(*) FROM episodes") == ["2"] }
        // 19 points of return-to-use signs: moderate on the watch (15), low at the normal threshold (20).
        for client in ["c-watch", "c-past"] {
            try harness.drop(
                "\(client)-2.json",
                checkIn(
                    id: "\(client)-2", client: client, at: Self.time(-60),
                    extra: #","signs":["secrecy","skipping_meetings"],"stressors":["job_loss"]"#))
        }
        try eventually("both evaluated") { try harness.count("events") == 4 }
        try eventually("the episodes closed") {
            try harness.query("SELECT count(*) FROM episodes WHERE closed_at IS NOT NULL") == ["2"]
        }
        let watched = Self.json(try harness.run(["client", "show", "c-watch", "--json"]).stdout)
        let past = Self.json(try harness.run(["client", "show", "c-past", "--json"]).stdout)
        XCTAssertEqual(watched["tier"] as? String, "moderate", "\(watched)")
        XCTAssertNotNil(watched["watch_until"] as? String)
        XCTAssertEqual(past["tier"] as? String, "low", "\(past)")
        XCTAssertTrue(past["watch_until"] is NSNull)
        XCTAssertEqual(
            try harness.query("SELECT client FROM episodes WHERE closed_at IS NULL"), ["c-watch"],
            "the second rise opened an episode on the watch only")
        let list = try harness.run(["client", "list", "--watch", "--json"])
        let lines = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]) ?? []
        XCTAssertEqual(lines.compactMap { $0["client"] as? String }, ["c-watch"], list.stdout)
    }
}
