import XCTest

@testable import VigilCore

/// The decision core: episodes open, absorb, rise and close; a call plans once at its highest tier;
/// a rise supersedes the lower tier's open tasks with the same key; contacts answer outreach.
final class EvaluatorTests: XCTestCase {
    let t0 = Timestamp(seconds: 1_790_000_000)

    func at(_ hours: Double) -> Timestamp { t0.adding(TimeSpan(microseconds: Int64(hours * 3_600_000_000))) }

    /// Signs `m`, `h` and `i` weigh 25 each: one is moderate, two high, three imminent (a week's half-life).
    func evaluator() throws -> Evaluator {
        func origin(_ line: Int) -> ExpressionOrigin {
            ExpressionOrigin(file: "rules.yaml", line: line, column: 11, sourceLine: "    when: EXPR")
        }
        var source = RuleSource()
        source.rules = [("m", 25.0), ("h", 25), ("i", 25)].enumerated().map { index, rule in
            RuleDefinition(
                id: rule.0, origin: origin(index * 2 + 1), summary: "sign \(rule.0)",
                condition: SourceText("\"\(rule.0)\" in signs", origin: origin(index * 2 + 2)), weight: rule.1,
                halfLife: .days(7), evidence: "test")
        }
        let ruleSet = try RuleSet.compile(
            source, vocabulary: Vocabulary(signs: ["m", "h", "i"], stressors: [], protective: []))
        let plans = ResponsePlans([
            .moderate: [
                TaskTemplate(kind: .caringContact, schedule: .within(.hours(24)), route: "outreach", instruction: "m"),
                TaskTemplate(kind: .followUp, schedule: .at(.hours(24)), route: "outreach", instruction: "m24"),
            ],
            .high: [
                TaskTemplate(kind: .escalation, schedule: .now, route: "crisis-team", instruction: "h"),
                TaskTemplate(kind: .followUp, schedule: .at(.hours(24)), route: "outreach", instruction: "h24"),
            ],
            .imminent: [TaskTemplate(kind: .escalation, schedule: .now, route: "mobile-crisis", instruction: "i")],
        ])
        return Evaluator(
            ruleSet: ruleSet, policy: ScoringPolicy(thresholds: TierThresholds(moderate: 20, high: 45, imminent: 70)),
            plans: plans)
    }

    func checkIn(_ id: String, _ hours: Double, signs: [String] = [], contact: CheckIn.Contact? = nil) -> CheckIn {
        CheckIn(
            id: id, client: "c", at: at(hours), kind: contact == nil ? .checkin : .contact, source: .peer,
            signs: signs, contact: contact)
    }

    func planned(_ effects: [Effect]) -> [String] {
        effects.compactMap {
            if case .planned(let task, _, _) = $0 { return "\(task.slot) \(task.route)" } else { return nil }
        }
    }

    func superseded(_ effects: [Effect]) -> [String] {
        effects.compactMap {
            if case .superseded(let task, _, let reason) = $0 { return "\(task) \(reason)" } else { return nil }
        }
    }

    func testOneCallPlansOnceAtTheHighestTierItReached() throws {
        let evaluator = try evaluator()
        var state = evaluator.newClient("c")
        let effects = evaluator.evaluate(
            &state,
            checkIns: [
                checkIn("1", 0, signs: ["m"]), checkIn("2", 0.1, signs: ["h"]), checkIn("3", 0.2, signs: ["i"]),
            ],
            at: at(1))
        XCTAssertEqual(
            planned(effects),
            [
                "imminent.escalation.0s mobile-crisis", "moderate.caring_contact.1d.outreach outreach",
                "high.follow_up.1d.outreach outreach",
            ])
        XCTAssertEqual(superseded(effects), [])
        XCTAssertEqual(effects.filter { if case .evaluated = $0 { return true } else { return false } }.count, 3)
        let episodes = effects.compactMap { if case .episode(let change) = $0 { return change } else { return nil } }
        XCTAssertEqual(
            episodes,
            [
                .opened(
                    Episode(
                        number: 1, tier: .imminent, openedAt: at(1), heldUntil: at(0.2), domains: ["risk": .imminent]))
            ],
            "a policy without a hold holds nothing past the observation that reached the tier")
        XCTAssertEqual(state.openTasks.count, 3)
    }

    func testEachRiseSupersedesTheLowerTiersTaskForTheSameJob() throws {
        let evaluator = try evaluator()
        var state = evaluator.newClient("c")
        let moderate = evaluator.evaluate(&state, checkIns: [checkIn("1", 0, signs: ["m"])], at: at(0))
        XCTAssertEqual(
            planned(moderate),
            ["moderate.caring_contact.1d.outreach outreach", "moderate.follow_up.1d.outreach outreach"])
        let ids = state.openTasks.map(\.id)
        let high = evaluator.evaluate(&state, checkIns: [checkIn("2", 1, signs: ["h"])], at: at(1))
        XCTAssertEqual(planned(high), ["high.escalation.0s crisis-team", "high.follow_up.1d.outreach outreach"])
        XCTAssertEqual(superseded(high), ["\(ids[1]) superseded by high"], "the caring contact is not replaced")
        let highEscalation = try XCTUnwrap(state.openTasks.first { $0.kind == .escalation }?.id)
        let imminent = evaluator.evaluate(&state, checkIns: [checkIn("3", 2, signs: ["i"])], at: at(2))
        XCTAssertEqual(planned(imminent), ["imminent.escalation.0s mobile-crisis"])
        XCTAssertEqual(superseded(imminent), ["\(highEscalation) superseded by imminent"])
        XCTAssertEqual(state.openTasks.filter { $0.kind == .escalation }.count, 1, "one open escalation")
        XCTAssertEqual(state.openTasks.count, 3)
        // The same tier again, or a dip and a rise back: absorbed, nothing re-planned.
        XCTAssertEqual(planned(evaluator.evaluate(&state, checkIns: [checkIn("4", 3, signs: ["i"])], at: at(3))), [])
    }

    func testATaskResolvedIsNeverPlannedAgainInItsEpisodeAndAClosedEpisodeStartsAfresh() throws {
        let evaluator = try evaluator()
        var state = evaluator.newClient("c")
        _ = evaluator.evaluate(&state, checkIns: [checkIn("1", 0, signs: ["m"])], at: at(0))
        let contact = evaluator.evaluate(
            &state, checkIns: [checkIn("k", 0.5, contact: CheckIn.Contact(outcome: .reached))], at: at(0.5))
        let answered = contact.compactMap { if case .contact(let result) = $0 { return result } else { return nil } }
        XCTAssertEqual(answered.map(\.resolved), [true])
        XCTAssertEqual(
            answered.first?.task, PlannedTask.id(client: "c", episode: 1, slot: "moderate.caring_contact.1d.outreach"),
            "an unnamed contact answers the earliest due caring contact or follow-up")
        let high = evaluator.evaluate(&state, checkIns: [checkIn("2", 1, signs: ["h"])], at: at(1))
        XCTAssertFalse(
            planned(high).contains { $0.hasPrefix("moderate.caring_contact") }, "resolved: not planned again")
        // Eight weeks of quiet: the score decays to low, the episode closes; a rise opens episode 2.
        let later = evaluator.evaluate(&state, checkIns: [checkIn("3", 24 * 56, signs: ["m"])], at: at(24 * 56))
        let changes = later.compactMap { if case .episode(let change) = $0 { return change } else { return nil } }
        XCTAssertEqual(changes.map(\.episode.number), [1, 2])
        XCTAssertEqual(
            planned(later), ["moderate.caring_contact.1d.outreach outreach", "moderate.follow_up.1d.outreach outreach"])
        XCTAssertEqual(
            superseded(later).count, 1,
            "episode 1's open 24 h follow-up is replaced by episode 2's: one open task per job")
    }

    func testAContactBeforeATaskExistedDoesNotAnswerIt() throws {
        let evaluator = try evaluator()
        var state = evaluator.newClient("c")
        _ = evaluator.evaluate(&state, checkIns: [checkIn("1", 10, signs: ["m"])], at: at(10))
        let early = evaluator.evaluate(
            &state, checkIns: [checkIn("k", 9, contact: CheckIn.Contact(outcome: .reached))], at: at(10.1))
        let answered = early.compactMap { if case .contact(let result) = $0 { return result } else { return nil } }
        XCTAssertEqual(answered.map(\.task), [nil])
        XCTAssertEqual(state.openTasks.count, 2)
    }

    func testATakeRecordsWhoAndAnAckResolvesWithoutTouchingTheScore() throws {
        let evaluator = try evaluator()
        var state = evaluator.newClient("c")
        _ = evaluator.evaluate(&state, checkIns: [checkIn("1", 10, signs: ["m"])], at: at(10))
        let task = try XCTUnwrap(state.openTasks.first?.id)
        let before = evaluator.score(of: state, at: at(10.5))
        func act(_ kind: CheckIn.Kind, _ id: String) -> [Effect] {
            evaluator.evaluate(
                &state,
                checkIns: [
                    CheckIn(
                        id: id, client: "c", at: at(10.5), kind: kind, source: .counselor,
                        action: CheckIn.Action(task: task, by: "counselor.rivera"))
                ], at: at(10.5))
        }
        func actions(_ effects: [Effect]) -> [TaskAction] {
            effects.compactMap { if case .action(let action) = $0 { return action } else { return nil } }
        }
        let taken = act(.take, "take-1")
        XCTAssertEqual(
            actions(taken), [TaskAction(event: "take-1", task: task, by: "counselor.rivera", resolves: false)])
        XCTAssertTrue(state.openTasks.contains { $0.id == task }, "a take leaves the task open")
        let acked = act(.ack, "ack-1")
        XCTAssertEqual(actions(acked), [TaskAction(event: "ack-1", task: task, by: "counselor.rivera", resolves: true)])
        XCTAssertFalse(state.openTasks.contains { $0.id == task }, "an ack ends the task")
        for effects in [taken, acked] {
            XCTAssertTrue(planned(effects).isEmpty)
            for case .evaluated(_, let fired, _, let score) in effects {
                XCTAssertTrue(fired.isEmpty, "no rule reads a person's act")
                XCTAssertEqual(score, before)
            }
        }
        XCTAssertEqual(state.replay.history.facts.count, 1, "the rules read the client's observations only")
    }
}
