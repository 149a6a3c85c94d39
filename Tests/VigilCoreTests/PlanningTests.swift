import VigilCore
import XCTest

/// Response planning, exhaustively: schedules, slots, episodes (open, absorb, raise, close) and retries.
final class PlanningTests: XCTestCase {
    static func duration(_ text: String) -> TimeSpan? {
        guard let unit = text.last, let value = Int64(text.dropLast()) else { return nil }
        switch unit {
        case "h": return .hours(value)
        case "d": return .days(value)
        default: return nil
        }
    }

    func testSchedulesParseAndExpand() {
        XCTAssertEqual(TaskSchedule.parse("now", duration: Self.duration), .now)
        XCTAssertEqual(TaskSchedule.parse("within 4h", duration: Self.duration), .within(.hours(4)))
        XCTAssertEqual(TaskSchedule.parse("at 72h", duration: Self.duration), .at(.hours(72)))
        XCTAssertEqual(TaskSchedule.parse("daily for 7d", duration: Self.duration), .daily(days: 7))
        for bad in ["", "soon", "within", "at 4x", "daily for 36h", "daily for 0d", "daily for 91d", "now please"] {
            XCTAssertNil(TaskSchedule.parse(bad, duration: Self.duration), bad)
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

    func testSlotsAndIdsAreStable() {
        XCTAssertEqual(Self.plans.tasks(for: .high).map(\.slot), ["high.1", "high.2.1", "high.2.2"])
        XCTAssertEqual(Self.plans.tasks(for: .imminent).count, 0, "a tier without a plan enqueues nothing")
        let id = PlannedTask.id(client: "c-1", episode: 1, slot: "high.1")
        XCTAssertEqual(id, PlannedTask.id(client: "c-1", episode: 1, slot: "high.1"))
        XCTAssertTrue(id.hasPrefix("t-") && id.count == 18)
        XCTAssertNotEqual(id, PlannedTask.id(client: "c-1", episode: 2, slot: "high.1"))
        XCTAssertNotEqual(id, PlannedTask.id(client: "c-2", episode: 1, slot: "high.1"))
    }

    func testEpisodesOpenAbsorbRaiseAndClose() {
        let planner = EpisodePlanner(plans: Self.plans)
        var cursor = EpisodeCursor()
        // Low: nothing.
        XCTAssertEqual(planner.step(&cursor, client: "c", before: .low, after: .low, at: Self.t0).tasks, [])
        // A rise to moderate opens episode 1 with the moderate plan, due from detection.
        let opened = planner.step(&cursor, client: "c", before: .low, after: .moderate, at: Self.t0)
        XCTAssertTrue(opened.opened)
        XCTAssertEqual(opened.tasks.map(\.kind), [.caringContact])
        XCTAssertEqual(opened.tasks[0].due, Self.t0.adding(.hours(24)))
        XCTAssertEqual(opened.tasks[0].deliverAt, Self.t0)
        // The same tier: absorbed.
        let held = planner.step(
            &cursor, client: "c", before: .moderate, after: .moderate, at: Self.t0.adding(.hours(1)))
        XCTAssertNil(held.changed)
        XCTAssertEqual(held.tasks, [])
        // A rise: the higher plan, same episode.
        let raised = planner.step(&cursor, client: "c", before: .moderate, after: .high, at: Self.t0.adding(.hours(2)))
        XCTAssertFalse(raised.opened)
        XCTAssertEqual(raised.changed?.number, 1)
        XCTAssertEqual(raised.tasks.map(\.kind), [.escalation, .peerCheckin, .peerCheckin])
        XCTAssertEqual(raised.tasks.map(\.episode), [1, 1, 1])
        // A dip to moderate does not re-plan high when it rises again.
        XCTAssertEqual(planner.step(&cursor, client: "c", before: .high, after: .moderate, at: Self.t0).tasks, [])
        XCTAssertEqual(planner.step(&cursor, client: "c", before: .moderate, after: .high, at: Self.t0).tasks, [])
        // Decayed to low in the quiet before an event: the episode closed; a new rise opens episode 2.
        let reopened = planner.step(&cursor, client: "c", before: .low, after: .high, at: Self.t0.adding(.days(30)))
        XCTAssertEqual(reopened.closed?.number, 1)
        XCTAssertTrue(reopened.opened)
        XCTAssertEqual(reopened.changed?.number, 2)
        XCTAssertEqual(reopened.tasks.count, 3)
        XCTAssertNotEqual(reopened.tasks[0].id, raised.tasks[0].id, "a new episode, new ids")
        // Falling to low closes it.
        let closed = planner.step(&cursor, client: "c", before: .high, after: .low, at: Self.t0.adding(.days(31)))
        XCTAssertEqual(closed.closed?.number, 2)
        XCTAssertNil(cursor.open)
        XCTAssertEqual(cursor.lastNumber, 2)
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
