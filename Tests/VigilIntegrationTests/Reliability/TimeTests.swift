import Foundation
import XCTest

/// Clock jumps, forward and back, on the daemon's and the notifier's clock (`vigil-testd`, the same
/// services on a shifted clock, `--clock-offset-file`): a jump forward delivers exactly what fell due and
/// raises each overdue escalation once, not every timer at once; a jump back delivers nothing
/// early and loses no due task; an absence is decided once however the clock moves.
final class TimeTests: XCTestCase {
    func testClockJumpsNeitherFireEverythingNorLoseADueTask() throws {
        // (The times below are offsets of the daemon's clock from now.)
        let harness = try Harness()
        let offsetFile = harness.root + "/clock-offset"
        func shift(hours: Int) throws {
            try "\(hours * 3600)\n".write(toFile: offsetFile, atomically: true, encoding: .utf8)
        }
        try shift(hours: 0)
        try harness.configureNotifier("default_channel: journal\npoll_interval: 50ms")
        let shifted = ["--clock-offset-file", offsetFile]
        let daemon = try harness.startDaemon(arguments: shifted, binary: Harness.testBinary)
        defer { _ = daemon.stop() }
        let notifier = try harness.startNotifier(arguments: shifted, binary: Harness.testBinary)
        defer { _ = notifier.stop() }
        // A check-in (which starts the 48 h silence of `missed-check-ins`), then a screening at high.
        try harness.drop("c1.json", checkIn(id: "c1", client: "c-time", at: ResponsePlanTests.time(-120)))
        try eventually("c1 stored") { try harness.count("events") == 1 }
        try harness.drop(
            "s1.json", ResponsePlanTests.highScreening(id: "s1", client: "c-time", at: ResponsePlanTests.time(-60)))
        try eventually("the plan enqueued") { try harness.tasks().count == ResponsePlanTests.highPlanSize }

        /// At `hours` after detection: every task due for delivery is delivered exactly once,
        /// nothing else is, and each outreach task past due + 4 h has exactly one overdue escalation.
        func settled(at hours: Double) throws -> Bool {
            let tasks = try harness.tasks()
            let now = Date().addingTimeInterval(hours * 3600)  // after the snapshot: it holds nothing newer
            for task in tasks {
                let deliverAt = ResponsePlanTests.date(task["deliver_at"]) ?? .distantFuture
                let state = task["state"] as? String
                if deliverAt <= now {
                    guard state == "delivered", task["attempts"] as? Int == 1 else { return false }
                } else {
                    XCTAssertEqual(
                        state, "pending",
                        "\(task["id"] ?? "") \(task["kind"] ?? "") delivered before its time \(task["deliver_at"] ?? "") (now \(now), at +\(hours) h)"
                    )
                }
            }
            let outreach = tasks.filter {
                ["caring_contact", "follow_up", "peer_checkin"].contains($0["kind"] as? String)
            }
            let late = Set(
                outreach.filter {
                    (ResponsePlanTests.date($0["due"]) ?? .distantFuture).addingTimeInterval(4 * 3600) <= now
                }
                .compactMap { $0["id"] as? String })
            let overdue = tasks.filter { $0["kind"] as? String == "overdue" }.compactMap { $0["about"] as? String }
            XCTAssertEqual(overdue.count, Set(overdue).count, "one overdue escalation per task")
            return Set(overdue) == late
        }
        func dump() -> String {
            ((try? harness.tasks()) ?? []).map {
                "\($0["kind"] ?? "") \($0["state"] ?? "") \($0["attempts"] ?? "") \($0["deliver_at"] ?? "") \($0["due"] ?? "")"
            }.joined(separator: "\n")
        }
        try eventually("the tasks delivered at once, delivered now:\n\(dump())") { try settled(at: 0) }

        // Forward 26 h: the 24 h follow-up and the first peer check-in fall due, and the same-day
        // assessment (due at 8 h) is overdue; nothing later fires.
        try shift(hours: 26)
        try eventually("what fell due by 26 h, once") { try settled(at: 26) }
        usleep(1_500_000)
        XCTAssertTrue(try settled(at: 26))
        let afterForward = try harness.tasks().map { "\($0["id"] ?? "") \($0["state"] ?? "") \($0["attempts"] ?? "")" }

        // Back to the present: nothing is delivered again or early, nothing due is lost.
        try shift(hours: 0)
        usleep(2_000_000)
        XCTAssertEqual(
            try harness.tasks().map { "\($0["id"] ?? "") \($0["state"] ?? "") \($0["attempts"] ?? "")" }, afterForward,
            "a jump back changes nothing")

        // Forward 80 h (past every follow-up, and 48 h without a check-in): all due once, the
        // silence decided once.
        try shift(hours: 80)
        try harness.drop("other.json", checkIn(id: "o1", client: "c-other", at: ResponsePlanTests.time(-60)))
        try eventually(timeout: 60, "what fell due by 80 h, once") { try settled(at: 80) }
        try shift(hours: 0)
        try shift(hours: 81)
        usleep(2_000_000)
        XCTAssertTrue(try settled(at: 81))
        let silences = try harness.query("select count(*) from absences where client = 'c-time'")
        XCTAssertEqual(silences, ["1"], "the 48 h silence is decided once, however the clock moved")
        XCTAssertTrue(daemon.log.contains("shifted test clock"), "the test clock is announced loudly")
        let tasks = try harness.tasks()
        print(
            "time: jumps +26 h, -26 h, +80 h, -80 h, +81 h; \(tasks.count) tasks, \(tasks.filter { $0["state"] as? String == "delivered" }.count) delivered once each, \(tasks.filter { $0["kind"] as? String == "overdue" }.count) overdue escalations once each, the silence decided once; 0 lost"
        )
    }
}
