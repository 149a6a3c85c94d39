import Foundation
import XCTest

/// Plans supersede, never stack, through the real daemon, store and notifier: a client whose
/// worsening check-ins (moderate → high → imminent) arrive in one batch is planned once, at the
/// highest tier; arriving one after the other, each rise cancels the lower tier's open tasks for
/// the same jobs ("superseded by TIER", kept as history). Either way the client ends with one open
/// escalation, to the highest tier's role, one caring contact and one task per role and slot.
final class SupersedeTests: XCTestCase {
    static func moderateScreening(id: String, client: String, at: String) -> String {
        checkIn(
            id: id, client: client, at: at, kind: "screening",
            extra: #","screening":{"wish_dead":true,"suicidal_thoughts":false,"behavior_past_3_months":false}"#)
    }

    /// The worsening sequence of the stacking report, a minute apart.
    static func worsening(client: String) -> [String] {
        [
            moderateScreening(id: "m", client: client, at: ResponsePlanTests.time(-180)),
            ResponsePlanTests.highScreening(id: "h", client: client, at: ResponsePlanTests.time(-120)),
            ResponsePlanTests.imminentScreening(id: "i", client: client, at: ResponsePlanTests.time(-60)),
        ]
    }

    /// The open tasks as `kind route hours-after-creation`, sorted.
    static func openPlan(_ tasks: [[String: Any]]) -> [String] {
        tasks.filter { ["pending", "claimed", "delivered"].contains($0["state"] as? String ?? "") }.map {
            "\($0["kind"] as? String ?? "?") \($0["route"] as? String ?? "?") \(ResponsePlanTests.hours($0, "deliver_at"))"
        }.sorted()
    }

    /// The caring-contact program's messages (hours after the rise to high), which replace the plans'
    /// one-off caring contact.
    static let program = [24.0, 168, 720, 1440, 2160, 2880, 4320, 5760, 7200, 8760].map { "caring_contact peer \($0)" }

    static let expectedOpen =
        ([
            "escalation crisis_clinician 0.0", "follow_up case_manager 0.0", "follow_up counselor 0.0",
            "follow_up counselor 24.0", "follow_up counselor 72.0", "plan_review counselor 0.0",
        ] + program + (1...7).map { "peer_checkin peer \(Double($0 * 24))" }).sorted()

    func testOneBatchPlansOnceAtTheHighestTier() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try harness.drop("worse.jsonl", Self.worsening(client: "c-batch").joined(separator: "\n") + "\n")
        try eventually("the batch stored") { try harness.count("events") == 3 }
        let tasks = try harness.tasks()
        XCTAssertEqual(Self.openPlan(tasks), Self.expectedOpen)
        XCTAssertEqual(tasks.count, Self.expectedOpen.count, "nothing planned for the intermediate tiers")
        XCTAssertEqual(Set(tasks.compactMap { $0["tier"] as? String }), ["imminent"])
        XCTAssertEqual(Set(tasks.compactMap { $0["episode"] as? Int }), [1])
    }

    func testRisesOneAfterTheOtherSupersedeTheLowerTiersTasksAndNothingIsDeliveredTwice() throws {
        let harness = try Harness()
        let receiver = try WebhookReceiver(in: harness, script: [])
        try harness.configureNotifier(
            """
            channels:
              team: {type: webhook, url: "\(receiver.url)", secret_file: \(receiver.secretPath), timeout: 2s, max_age: 1h}
            default_channel: team
            retry_initial: 200ms
            retry_longest: 1s
            poll_interval: 50ms
            """)
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let notifier = try harness.startNotifier()
        defer { _ = notifier.stop() }
        let lines = Self.worsening(client: "c-steps")
        for (count, line) in lines.enumerated() {
            try harness.drop("step\(count).json", line)
            try eventually("step \(count) stored") { try harness.count("events") == count + 1 }
            // Each lower tier's escalation reaches the team before the next rise (the worst case).
            if count == 1 {
                try eventually("the high escalation delivered") {
                    receiver.answered.contains { ($0["body"] as? [String: Any])?["route"] as? String == "counselor" }
                }
            }
        }
        let tasks = try harness.tasks()
        // The moderate rise's caring contact was planned before the program started at high.
        XCTAssertEqual(Self.openPlan(tasks), (Self.expectedOpen + ["caring_contact peer 0.0"]).sorted())
        let cancelled = tasks.filter { $0["state"] as? String == "cancelled" }
        XCTAssertEqual(
            cancelled.map {
                "\($0["kind"] as? String ?? "?") \($0["tier"] as? String ?? "?") \($0["cancel_reason"] as? String ?? "?")"
            }
            .sorted(),
            [
                "escalation high superseded by imminent", "follow_up high superseded by imminent",
                "follow_up high superseded by imminent", "follow_up moderate superseded by high",
                "follow_up moderate superseded by high",
            ])
        // The team got each task's alert once: the high escalation, then its end notice when the
        // imminent one superseded it, and the imminent escalation.
        try eventually("the superseded escalation's end notice") {
            receiver.answered.contains {
                let body = $0["body"] as? [String: Any]
                return body?["route"] as? String == "counselor" && body?["kind"] as? String == "escalation"
                    && body?["status"] as? String != "firing"
            }
        }
        var firing: [String: Int] = [:]
        for line in receiver.answered where line["accepted"] as? Bool == true {
            guard let body = line["body"] as? [String: Any], body["status"] as? String == "firing" else { continue }
            firing[body["task"] as? String ?? "?", default: 0] += 1
        }
        XCTAssertEqual(firing.values.max(), 1, "no task is delivered twice: \(firing)")
        let escalations = receiver.answered.compactMap { $0["body"] as? [String: Any] }
            .filter { $0["kind"] as? String == "escalation" && $0["status"] as? String == "firing" }
        XCTAssertEqual(escalations.compactMap { $0["route"] as? String }.sorted(), ["counselor", "crisis_clinician"])
        let shown = try harness.run(["queue", "show", try XCTUnwrap(cancelled.first?["id"] as? String), "--json"])
        XCTAssertTrue(shown.stdout.contains("\"cancel_reason\":\"superseded by"), shown.stdout)
    }
}
