import VigilCore
import XCTest

/// Response planning, exhaustively: schedules, slots, episodes (open, absorb, raise, close) and retries.
final class PlanningTests: XCTestCase {
    func testSchedulesParseAndExpand() {
        XCTAssertEqual(TaskSchedule.parse("now"), .now)
        XCTAssertEqual(TaskSchedule.parse("within 4h"), .within(.hours(4)))
        XCTAssertEqual(TaskSchedule.parse("at 72h"), .at(.hours(72)))
        XCTAssertEqual(TaskSchedule.parse("daily for 7d"), .daily(days: 7))
        for bad in [
            "", "soon", "within", "at 4x", "daily for 36h", "daily for 0d", "daily for 91d", "now please", "at -4h",
        ] {
            XCTAssertNil(TaskSchedule.parse(bad), bad)
        }
        XCTAssertEqual(TaskSchedule.within(.hours(4)).occurrences, [.init(deliver: .seconds(0), due: .hours(4))])
        XCTAssertEqual(TaskSchedule.at(.hours(24)).occurrences, [.init(deliver: .hours(24), due: .hours(24))])
        XCTAssertEqual(TaskSchedule.daily(days: 3).occurrences.map(\.due), [.days(1), .days(2), .days(3)])
        XCTAssertEqual(TaskSchedule.daily(days: 7).description, "daily for 7d")
        XCTAssertEqual(TaskSchedule.within(.hours(4)).description, "within 4h")
    }

    static let plans = ResponsePlans([
        .moderate: [
            TaskTemplate(kind: .caringContact, schedule: .within(.hours(24)), route: "outreach", instruction: "m")
        ],
        .high: [
            TaskTemplate(kind: .escalation, schedule: .now, route: "crisis", instruction: "h"),
            TaskTemplate(kind: .peerCheckin, schedule: .daily(days: 2), route: "peer", instruction: "p"),
        ],
    ])
    static let t0 = Timestamp(seconds: 1_800_000_000)

    func testPlansAreCumulativeAndKeyedByKindAndDelivery() {
        let lines = Self.plans.lines(upTo: .high)
        XCTAssertEqual(
            lines.map(\.slot),
            [
                "high.escalation.0s", "moderate.caring_contact.1d.outreach", "high.peer_checkin.1d.peer",
                "high.peer_checkin.2d.peer",
            ],
            "a tier's plan includes the lower tiers' jobs it does not replace")
        XCTAssertEqual(Self.plans.lines(upTo: .low).count, 0)
        XCTAssertEqual(
            Self.plans.lines(upTo: .imminent).map(\.slot), lines.map(\.slot), "a tier without a plan adds nothing")
        for line in lines {
            XCTAssertEqual(PlanKey.parse(slot: line.slot)?.key, line.key)
            XCTAssertEqual(PlanKey.parse(slot: line.slot)?.tier, line.tier)
        }
        for other in [
            "fallback:t-1", "overdue:t-1", "refused:ab", "high.1", "high.follow_up", "high.nope.1d", "x.follow_up.1d",
        ] {
            XCTAssertNil(PlanKey.parse(slot: other), other)
        }
        let repeated = ResponsePlans([
            .high: [
                TaskTemplate(kind: .followUp, schedule: .at(.hours(24)), route: "r", instruction: "a"),
                TaskTemplate(kind: .followUp, schedule: .daily(days: 2), route: "r", instruction: "b"),
            ]
        ])
        XCTAssertEqual(repeated.repeatedKeys.map { "\($0.tier) \($0.key)" }, ["high follow_up.1d.r"])
        XCTAssertTrue(Self.plans.repeatedKeys.isEmpty)
        let id = PlannedTask.id(client: "c-1", episode: 1, slot: "high.escalation.0s")
        XCTAssertEqual(id, PlannedTask.id(client: "c-1", episode: 1, slot: "high.escalation.0s"))
        XCTAssertTrue(id.hasPrefix("t-") && id.count == 18)
        XCTAssertNotEqual(id, PlannedTask.id(client: "c-1", episode: 2, slot: "high.escalation.0s"))
        XCTAssertNotEqual(id, PlannedTask.id(client: "c-2", episode: 1, slot: "high.escalation.0s"))
    }

    func testRetryBacksOffWithJitterUntilTheMaxAge() {
        let policy = RetryPolicy(initial: .seconds(2), longest: .seconds(60), maxAge: .minutes(10))
        let first = Self.t0
        func wait(_ attempts: Int, _ jitter: Double) -> Int64? {
            policy.nextAttempt(after: attempts, firstAttempt: first, now: first, jitter: jitter).map {
                ($0.microseconds - first.microseconds) / 1_000_000
            }
        }
        XCTAssertEqual(wait(1, 0.5), 2)
        XCTAssertEqual(wait(2, 0.5), 4)
        XCTAssertEqual(wait(3, 0.5), 8)
        XCTAssertEqual(wait(10, 0.5), 60, "capped at the longest wait")
        XCTAssertEqual(wait(50, 0.5), 60, "no overflow however many attempts")
        XCTAssertEqual(
            policy.nextAttempt(after: 1, firstAttempt: first, now: first, jitter: 0)?.microseconds,
            first.microseconds + 1_600_000, "jitter spreads by -20 %")
        XCTAssertEqual(
            policy.nextAttempt(after: 1, firstAttempt: first, now: first, jitter: 1)?.microseconds,
            first.microseconds + 2_400_000, "and +20 %")
        XCTAssertNil(
            policy.nextAttempt(after: 5, firstAttempt: first, now: first.adding(.minutes(10)), jitter: 0.5),
            "past the max age the task is dead")
    }

    func testOutreachKindsAndOpenStates() {
        XCTAssertEqual(TaskKind.allCases.filter(\.isOutreach), [.caringContact, .followUp, .peerCheckin])
        XCTAssertEqual(TaskState.allCases.filter(\.isOpen), [.pending, .claimed, .delivered])
    }
}
