import Foundation
import XCTest

/// The rule pack applied on ingest, through the real daemon and store: firings and scores stored
/// with each event, explained by `vigil client show`, identical whatever the batches and restarts.
final class RuleEvaluationTests: XCTestCase {
    /// Check-ins for three clients over the last 19 days, varied by a fixed pseudo-random sequence;
    /// two arrive late (observed before events that arrived earlier).
    static let stream: [String] = {
        var seed: UInt64 = 42
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        let signs = [
            "isolation", "hopelessness", "withdrawing_from_routines", "romanticizing_use", "cravings_intensifying",
        ]
        let stressors = ["job_loss", "conflict_at_home", "housing_loss"]
        let protective = ["naloxone_on_hand", "safety_plan_reviewed", "attending_meetings"]
        var lines: [String] = []
        let start = RuleEvaluationTests.now.addingTimeInterval(-450 * 3600)
        for index in 0..<90 {
            let hour = index * 5 + (index == 40 || index == 70 ? -30 : 0)
            let at = ISO8601DateFormatter().string(
                from: start.addingTimeInterval(Double(hour * 3600 + index % 60 * 60)))
            var extra = ",\"measures\":{\"mood\":\(next(11)),\"craving\":\(next(11)),\"sleep_hours\":\(3 + next(6))}"
            if next(3) == 0 { extra += ",\"signs\":[\"\(signs[next(signs.count)])\"]" }
            if next(4) == 0 { extra += ",\"stressors\":[\"\(stressors[next(stressors.count)])\"]" }
            if next(4) == 0 { extra += ",\"protective\":[\"\(protective[next(protective.count)])\"]" }
            extra += ",\"note\":\"private words \(index)\""
            lines.append(checkIn(id: "s-\(index)", client: "c-\(index % 3)", at: at, extra: extra))
        }
        return lines
    }()

    static let now = Date()
    static let asOf = ISO8601DateFormatter().string(from: now.addingTimeInterval(3600))

    /// `client show --json` for each client of the stream, as of a fixed instant.
    func reports(_ harness: Harness) throws -> [String: [String: Any]] {
        var reports: [String: [String: Any]] = [:]
        for client in ["c-0", "c-1", "c-2"] {
            let result = try harness.run(["client", "show", client, "--json", "--as-of", Self.asOf, "--events", "100"])
            XCTAssertEqual(result.status, 0, "\(result)")
            XCTAssertFalse(result.stdout.contains("private words"), "the note never leaves the store")
            reports[client] = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        }
        return reports
    }

    func testSameEventsSameScoresWhateverTheBatchesAndRestarts() throws {
        // All at once, one batch, one daemon run.
        let whole = try harnessWithoutAbsences().harness
        try whole.drop("all.jsonl", Self.stream.joined(separator: "\n") + "\n")
        let first = try whole.startDaemon()
        try eventually("all events stored") { try whole.count("events") == Self.stream.count }
        XCTAssertEqual(first.stop(), 0)
        let expected = try reports(whole)

        // The same events in arrival order: single files, then a batch after a restart, then single
        // files after a kill -9, each part ingested by a fresh process that rebuilds state from the store.
        let pieces = try harnessWithoutAbsences().harness
        func singles(_ range: Range<Int>) throws {
            for index in range {
                try pieces.drop(String(format: "%04d.json", index), Self.stream[index])
            }
        }
        try singles(0..<30)
        var daemon = try pieces.startDaemon()
        try eventually { try pieces.count("events") == 30 }
        XCTAssertEqual(daemon.stop(), 0)
        try pieces.drop("0030.jsonl", Self.stream[30..<60].joined(separator: "\n"))
        daemon = try pieces.startDaemon()
        try eventually { try pieces.count("events") == 60 }
        daemon.crash()
        try singles(60..<Self.stream.count)
        daemon = try pieces.startDaemon()
        try eventually { try pieces.count("events") == Self.stream.count }
        XCTAssertEqual(daemon.stop(), 0)
        let got = try reports(pieces)

        for client in expected.keys.sorted() {
            let want = try XCTUnwrap(expected[client])
            let have = try XCTUnwrap(got[client])
            XCTAssertEqual(have["score"] as? Double, want["score"] as? Double, client)
            XCTAssertEqual(have["tier"] as? String, want["tier"] as? String, client)
            XCTAssertEqual(
                NSArray(array: have["events"] as? [Any] ?? []), NSArray(array: want["events"] as? [Any] ?? []),
                "\(client): per-event firings, scores and tiers")
            XCTAssertEqual(
                NSArray(array: have["firings"] as? [Any] ?? []), NSArray(array: want["firings"] as? [Any] ?? []),
                client)
        }
        let fired = expected.values.flatMap {
            ($0["events"] as? [[String: Any]] ?? []).flatMap { $0["fired"] as? [String] ?? [] }
        }
        XCTAssertGreaterThan(Set(fired).count, 5, "the stream exercises many rules: \(Set(fired).sorted())")
    }

    func testClientShowExplainsTheScore() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        let events = [
            checkIn(id: "calm", client: "c-9", at: "2026-01-05T09:00:00Z", extra: #","measures":{"mood":7}"#),
            checkIn(
                id: "od", client: "c-9", at: "2026-01-06T09:00:00Z", kind: "overdose",
                extra: #","note":"found by roommate""#),
        ]
        try harness.drop("c9.jsonl", events.joined(separator: "\n"))
        try eventually { try harness.count("events") == 2 }
        let result = try harness.run(["client", "show", "c-9", "--json", "--as-of", "2026-01-06T21:00:00Z"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertFalse(result.stdout.contains("roommate"))
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["client"] as? String, "c-9")
        XCTAssertEqual(report["as_of"] as? String, "2026-01-06T21:00:00.000000Z")
        let firings = try XCTUnwrap(report["firings"] as? [[String: Any]])
        let overdose = try XCTUnwrap(firings.first { $0["rule"] as? String == "overdose" }, "\(firings)")
        XCTAssertEqual(overdose["event"] as? String, "od")
        XCTAssertEqual(overdose["at"] as? String, "2026-01-06T09:00:00.000000Z")
        XCTAssertFalse((overdose["summary"] as? String ?? "").isEmpty)
        let weight = try XCTUnwrap(overdose["weight"] as? Double)
        let atFiring = try XCTUnwrap(overdose["weight_at_firing"] as? Double)
        let halfLife = try XCTUnwrap(overdose["half_life_hours"] as? Double)
        XCTAssertEqual(weight, atFiring * pow(0.5, 12 / halfLife), accuracy: 0.001, "decayed over 12 h")
        let score = try XCTUnwrap(report["score"] as? Double)
        let sum = firings.compactMap { $0["weight"] as? Double }.reduce(0, +)
        XCTAssertEqual(score, min(100, max(0, sum)), accuracy: 0.01, "the score is the sum of the listed weights")
        XCTAssertNotEqual(report["tier"] as? String, "low")
        let recent = try XCTUnwrap(report["events"] as? [[String: Any]])
        XCTAssertEqual(recent.map { $0["id"] as? String }, ["od", "calm"])

        let text = try harness.run(["client", "show", "c-9", "--as-of", "2026-01-06T21:00:00Z"])
        XCTAssertEqual(text.status, 0, "\(text)")
        XCTAssertTrue(text.stdout.contains("overdose"), text.stdout)
        XCTAssertFalse(text.stdout.contains("roommate"))

        let unknown = try harness.run(["client", "show", "c-404"])
        XCTAssertEqual(unknown.status, 66, "\(unknown)")
        let malformed = try harness.run(["client", "show", "Jane Doe"])
        XCTAssertEqual(malformed.status, 65, "\(malformed)")
        XCTAssertFalse(malformed.stderr.contains("Jane"), "a malformed id may be a name: never echoed")
        XCTAssertEqual(daemon.stop(), 0)
    }

    /// A crisis line call is still elevated a day later (the floor holds while the weight decays),
    /// and has let go after 72 hours.
    func testACrisisCallIsStillElevatedADayLater() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try harness.drop(
            "call.json", checkIn(id: "call", client: "c-call", at: "2026-03-01T12:00:00Z", kind: "crisis_call"))
        try eventually { try harness.count("events") == 1 }
        func tier(at time: String) throws -> String? {
            let result = try harness.run(["client", "show", "c-call", "--json", "--as-of", time])
            let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return report?["tier"] as? String
        }
        XCTAssertEqual(try tier(at: "2026-03-01T13:00:00Z"), "moderate", "an hour later")
        XCTAssertEqual(try tier(at: "2026-03-02T12:00:00Z"), "moderate", "a day later")
        XCTAssertEqual(try tier(at: "2026-03-04T13:00:00Z"), "low", "73 hours later")
        XCTAssertEqual(daemon.stop(), 0)
    }
}

/// SIGHUP checks the whole rule pack before swapping it in.
final class RuleReloadTests: XCTestCase {
    func testReloadSwapsInANewRuleAndRefusesABrokenOne() throws {
        let harness = try Harness()
        let copy = try harness.useCopyOfRules()
        let socket = try NotifySocket(path: harness.root + "/notify.sock")
        let daemon = try harness.startDaemon(environment: ["NOTIFY_SOCKET": socket.path])
        try eventually { socket.assignments.contains("READY=1") }
        func fired(_ id: String) throws -> [String] {
            let result = try harness.run(["client", "show", "c-001", "--json", "--as-of", "2026-01-06T00:00:00Z"])
            let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            let events = report?["events"] as? [[String: Any]] ?? []
            return events.first { $0["id"] as? String == id }?["fired"] as? [String] ?? []
        }

        let rule = """
            rules:
              - id: stress-noted
                summary: High stress noted at a check-in
                domain: return_to_use
                when: measure.stress >= 9
                weight: 5
                evidence: test rule added by a reload
            """
        try rule.write(toFile: copy + "/added.yaml", atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try eventually("READY=1 after the reload") { socket.assignments.filter { $0 == "READY=1" }.count >= 2 }
        try harness.drop("a.json", checkIn(id: "a", extra: #","measures":{"stress":9}"#))
        try eventually("the event stored") { try harness.count("events") == 1 }
        XCTAssertEqual(try fired("a"), ["stress-noted"], "the reloaded rule applies")

        try
            (rule
            + "\n  - id: broken\n    summary: x\n    when: 'measure.mood < '\n    weight: 1\n    evidence: x\n    domain: suicide\n")
            .write(toFile: copy + "/added.yaml", atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try eventually("READY=1 after the refused reload") { socket.assignments.filter { $0 == "READY=1" }.count >= 3 }
        try eventually("the refusal logged with its location") {
            daemon.log.contains("reload refused") && daemon.log.contains("added.yaml:10:")
        }
        try harness.drop("b.json", checkIn(id: "b", at: "2026-01-05T11:00:00Z", extra: #","measures":{"stress":9}"#))
        try eventually("still ingesting") { try harness.count("events") == 2 }
        XCTAssertEqual(try fired("b"), ["stress-noted"], "the previous rules keep serving")
        XCTAssertEqual(daemon.stop(), 0)
    }
}

/// A harness on a copy of the default pack without its `absent:` rule (a silence is decided when the
/// timer sees it, so it depends on when events arrive, by design), and the copy's directory.
func harnessWithoutAbsences() throws -> (harness: Harness, rules: String) {
    let harness = try Harness()
    let rules = try harness.useCopyOfRules()
    try removeRule("missed-check-ins", from: rules + "/warning-signs.yaml")
    return (harness, rules)
}

/// Removes the rule `id` (up to the next rule) from the rule file at `path`.
func removeRule(_ id: String, from path: String) throws {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let start = try XCTUnwrap(text.range(of: "  - id: \(id)\n"), "rule \(id) in \(path)")
    let end = try XCTUnwrap(text.range(of: "  - id: ", range: start.upperBound..<text.endIndex))
    try text.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: "")
        .write(toFile: path, atomically: true, encoding: .utf8)
}

/// `absent:` rules on the daemon's timer.
final class AbsenceTimerTests: XCTestCase {
    func rfc3339(hoursAgo: Double) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date().addingTimeInterval(-hoursAgo * 3600))
    }

    /// Client c-quiet: a check-in 60 h ago, then a C-SSRS screening (wish to be dead: at least
    /// moderate) 59 h ago, and silence since: missed-check-ins is due 12 h ago.
    var silentClientAtRisk: [String] {
        let screening = #","screening":{"wish_dead":true,"suicidal_thoughts":false,"behavior_past_3_months":false}"#
        return [
            checkIn(id: "last-contact", client: "c-quiet", at: rfc3339(hoursAgo: 60)),
            checkIn(id: "screen", client: "c-quiet", at: rfc3339(hoursAgo: 59), kind: "screening", extra: screening),
        ]
    }

    func testSilenceOfAClientAtRiskFiresOnceAndSurvivesRestarts() throws {
        let harness = try Harness()
        try harness.drop(
            "past.jsonl",
            (silentClientAtRisk + [checkIn(id: "fine", client: "c-fine", at: rfc3339(hoursAgo: 60))])
                .joined(separator: "\n"))
        var daemon = try harness.startDaemon()
        try eventually("the events stored") { try harness.count("events") == 3 }
        try eventually("the absence logged") { daemon.log.contains("absence rule fired") }
        XCTAssertTrue(daemon.log.contains("834543906df04837806dcfd712e69a2d"), "its MESSAGE_ID")
        XCTAssertTrue(daemon.log.contains("rule=missed-check-ins"), daemon.log)
        XCTAssertTrue(daemon.log.contains("client=c-quiet"), daemon.log)
        let fired = daemon.log.split(separator: "\n").filter { $0.contains("absence rule fired") }
        XCTAssertEqual(fired.count, 1, "a low-risk client's silence does not fire: \(fired)")

        func absences() throws -> [[String: Any]] {
            let result = try harness.run(["client", "show", "c-quiet", "--json"])
            let report = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return (report?["firings"] as? [[String: Any]] ?? []).filter { $0["rule"] as? String == "missed-check-ins" }
        }
        let stored = try absences()
        XCTAssertEqual(stored.count, 1, "\(stored)")
        XCTAssertTrue(stored.first?["event"] is NSNull, "no event carries an absence")
        XCTAssertEqual(daemon.stop(), 0)

        // A restart rebuilds the client's state from the store and does not fire the same silence again.
        daemon = try harness.startDaemon()
        try eventually("started") { daemon.log.contains("vigil started") }
        try harness.drop("poke.json", checkIn(id: "other", client: "c-other", at: rfc3339(hoursAgo: 1)))
        try eventually { try harness.count("events") == 4 }
        XCTAssertEqual(daemon.stop(), 0)
        XCTAssertFalse(daemon.log.contains("absence rule fired"), daemon.log)
        XCTAssertEqual(try absences().count, 1)
    }

    /// Two unanswered calls are not news from the client: c-quiet's alarm, 48 h after its last
    /// check-in, fires all the same. A call that reached c-reached restarts its clock.
    func testUnansweredCallsDoNotPostponeTheAlarm() throws {
        let harness = try Harness()
        let contact = { (id: String, client: String, hoursAgo: Double, outcome: String) in
            checkIn(
                id: id, client: client, at: self.rfc3339(hoursAgo: hoursAgo), kind: "contact",
                extra: #","contact":{"outcome":"\#(outcome)"}"#)
        }
        let reached = silentClientAtRisk.map {
            $0.replacingOccurrences(of: "c-quiet", with: "c-reached").replacingOccurrences(
                of: "\"id\":\"", with: "\"id\":\"r-")
        }
        let events =
            silentClientAtRisk + reached + [
                contact("call-1", "c-quiet", 30, "no_answer"), contact("call-2", "c-quiet", 20, "left_message"),
                contact("call-3", "c-reached", 20, "reached"),
            ]
        try harness.drop("calls.jsonl", events.joined(separator: "\n"))
        let daemon = try harness.startDaemon()
        try eventually("the events stored") { try harness.count("events") == 7 }
        try eventually("the absence logged") { daemon.log.contains("absence rule fired") }
        let fired = daemon.log.split(separator: "\n").filter { $0.contains("absence rule fired") }
        XCTAssertEqual(fired.count, 1, "\(fired)")
        XCTAssertTrue(fired.first?.contains("client=c-quiet") ?? false, "\(fired)")
        let shown = try harness.run(["client", "show", "c-reached", "--json"]).stdout
        XCTAssertFalse(shown.contains("missed-check-ins"), "a reached client's clock restarted: \(shown)")
    }

    func testANewAbsenceRuleLooksAtClientsAlreadySilent() throws {
        let (harness, rules) = try harnessWithoutAbsences()
        try harness.drop("past.jsonl", silentClientAtRisk.joined(separator: "\n"))
        let daemon = try harness.startDaemon()
        try eventually("the events stored") { try harness.count("events") == 2 }
        XCTAssertFalse(daemon.log.contains("absence rule fired"), "no absent: rule in the pack yet")

        try FileManager.default.removeItem(atPath: rules + "/warning-signs.yaml")
        try FileManager.default.copyItem(
            atPath: Harness.repository + "/Rules/warning-signs.yaml", toPath: rules + "/warning-signs.yaml")
        daemon.signal(SIGHUP)
        try eventually("the silence found after the reload") {
            daemon.log.contains("absence rule fired") && daemon.log.contains("client=c-quiet")
        }
        XCTAssertEqual(daemon.stop(), 0)
    }
}
