import Foundation
import XCTest

/// The default pack's triage through the real daemon, store and `vigil client show`: domains, the
/// role plans a crisis team acts on, and the top tier's one crisis-clinician triage.
final class TriageTests: XCTestCase {
    /// `client show --json` of `client` now.
    func report(_ harness: Harness, _ client: String) throws -> [String: Any] {
        let result = try harness.run(["client", "show", client, "--json"])
        XCTAssertEqual(result.status, 0, "\(result)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
    }

    /// Each domain's tier in a `client show` report.
    func domainTiers(_ report: [String: Any]) -> [String: String] {
        var tiers: [String: String] = [:]
        for domain in report["domains"] as? [[String: Any]] ?? [] {
            if let name = domain["domain"] as? String { tiers[name] = domain["tier"] as? String }
        }
        return tiers
    }

    func testTheSeedOverdoseRiskCascadeEndsAtHighWithTheTeamsRolesAndNoTopTierTask() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        func t(_ offset: TimeInterval) -> String { ResponsePlanTests.time(offset) }
        try harness.drop(
            "cascade.jsonl",
            [
                checkIn(id: "k1", client: "c-seed", at: t(-50 * 3600), extra: #","stressors":["job_loss"]"#),
                checkIn(
                    id: "k2", client: "c-seed", at: t(-24 * 3600),
                    extra:
                        #","stressors":["conflict_at_home"],"signs":["withdrawing_from_routines","romanticizing_use"],"measures":{"sleep_hours":4}"#
                ),
                checkIn(id: "k3", client: "c-seed", at: t(-2 * 3600), extra: #","measures":{"sleep_hours":4.5}"#),
            ].joined(separator: "\n") + "\n")
        try eventually("the cascade's plan enqueued") { try harness.tasks().count == 17 }
        XCTAssertEqual(daemon.stop(), 0)
        let report = try report(harness, "c-seed")
        XCTAssertEqual(report["tier"] as? String, "high")
        XCTAssertEqual(domainTiers(report)["return_to_use"], "high")
        XCTAssertEqual(domainTiers(report)["suicide"], "low")
        let tasks = try harness.tasks()
        let routes = Set(tasks.compactMap { $0["route"] as? String })
        XCTAssertEqual(routes, ["counselor", "peer", "case_manager"], "\(tasks)")
        XCTAssertFalse(tasks.contains { $0["tier"] as? String == "imminent" }, "no top-tier task")
        XCTAssertEqual(tasks.filter { $0["kind"] as? String == "escalation" }.count, 1)
        let caseManager = try XCTUnwrap(tasks.first { $0["route"] as? String == "case_manager" })
        XCTAssertTrue((caseManager["instruction"] as? String ?? "").contains("naloxone"), "\(caseManager)")
    }

    func testAPeerHearingTalkAboutDeathGetsASameDayAssessmentInTheSuicideDomain() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try harness.drop(
            "death.json",
            checkIn(
                id: "d1", client: "c-death", at: ResponsePlanTests.time(-60),
                extra: #","signs":["talking_about_death"],"note":"private words""#))
        try eventually("the plan enqueued") { try harness.tasks().count > 0 }
        XCTAssertEqual(daemon.stop(), 0)
        let report = try report(harness, "c-death")
        let suicide = try XCTUnwrap(domainTiers(report)["suicide"])
        XCTAssertTrue(["moderate", "high"].contains(suicide), suicide)
        let assessments = try harness.tasks().filter { task in
            guard task["route"] as? String == "counselor",
                let created = ResponsePlanTests.date(task["created"]), let due = ResponsePlanTests.date(task["due"])
            else { return false }
            return due.timeIntervalSince(created) <= 8 * 3600
                && (task["instruction"] as? String ?? "").contains("C-SSRS")
        }
        XCTAssertFalse(assessments.isEmpty, "a same-day assessment with the C-SSRS")
    }

    func testCSSRSIntentIsTheTopTierWithOneCrisisClinicianTriage() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try harness.drop(
            "intent.json",
            checkIn(
                id: "i1", client: "c-intent", at: ResponsePlanTests.time(-60), kind: "screening",
                extra:
                    #","screening":{"wish_dead":true,"suicidal_thoughts":true,"method":true,"intent":true,"plan":false,"behavior_past_3_months":false}"#
            ))
        try eventually("the plan enqueued") { try harness.tasks().count > 0 }
        XCTAssertEqual(daemon.stop(), 0)
        let report = try report(harness, "c-intent")
        XCTAssertEqual(report["tier"] as? String, "imminent")
        XCTAssertEqual(report["acute"] as? Bool, true)
        let escalations = try harness.tasks().filter { $0["kind"] as? String == "escalation" }
        XCTAssertEqual(escalations.count, 1, "\(escalations)")
        XCTAssertEqual(escalations.first?["route"] as? String, "crisis_clinician")
        XCTAssertTrue((escalations.first?["instruction"] as? String ?? "").contains("15 minutes"))
    }
}
