import XCTest

@testable import VigilCore

/// Risk domains: one score per domain, caps, the acute marker the top tier needs, the tier an
/// episode reached holding for the policy's hold, and plans merged across elevated domains.
final class RiskDomainTests: XCTestCase {
    let t0 = Timestamp(seconds: 1_790_000_000)

    func at(_ hours: Double) -> Timestamp { t0.adding(TimeSpan(microseconds: Int64(hours * 3_600_000_000))) }

    static let thresholds = TierThresholds(moderate: 20, high: 45, imminent: 70)

    /// `suicide` (uncapped), `overdose` (uncapped), `return_to_use` (capped at high); the top tier
    /// needs an acute marker; a reached tier holds for 72 h.
    static let policy = ScoringPolicy(
        thresholds: thresholds,
        domains: [
            RiskDomain(name: "suicide", thresholds: thresholds),
            RiskDomain(name: "overdose", thresholds: thresholds),
            RiskDomain(name: "return_to_use", thresholds: thresholds, cap: .high),
        ], imminentRequiresAcute: true, hold: .hours(72))

    /// Sign `s` weighs 30 in suicide, `a` (acute while it counts) 30 in suicide, `o` 30 in overdose
    /// (acute for 24 h), `r` 40 in return_to_use, `q` 25 in suicide with a 2 h half-life.
    func evaluator(plans: ResponsePlans = ResponsePlans()) throws -> Evaluator {
        func origin(_ line: Int) -> ExpressionOrigin {
            ExpressionOrigin(file: "rules.yaml", line: line, column: 11, sourceLine: "    when: EXPR")
        }
        let rules: [(String, Double, String, Acuteness, TimeSpan)] = [
            ("s", 30, "suicide", .no, .days(7)), ("a", 30, "suicide", .whileActive, .days(7)),
            ("o", 30, "overdose", .within(.hours(24)), .days(7)), ("r", 40, "return_to_use", .no, .days(7)),
            ("q", 25, "suicide", .no, .hours(2)),
        ]
        var source = RuleSource()
        source.rules = rules.enumerated().map { index, rule in
            RuleDefinition(
                id: rule.0, origin: origin(index * 2 + 1), summary: "sign \(rule.0)",
                condition: SourceText("\"\(rule.0)\" in signs", origin: origin(index * 2 + 2)), weight: rule.1,
                halfLife: rule.4, evidence: "test", domain: rule.2, acute: rule.3)
        }
        let ruleSet = try RuleSet.compile(
            source, vocabulary: Vocabulary(signs: ["s", "a", "o", "r", "q"], stressors: [], protective: []),
            domains: Self.policy.names)
        return Evaluator(ruleSet: ruleSet, policy: Self.policy, plans: plans)
    }

    func checkIn(_ id: String, _ hours: Double, signs: [String]) -> CheckIn {
        CheckIn(id: id, client: "c", at: at(hours), kind: .checkin, source: .peer, signs: signs)
    }

    func tiers(_ score: RiskScore) -> [String: Tier] {
        Dictionary(uniqueKeysWithValues: score.domains.map { ($0.name, $0.tier) })
    }

    func testEachDomainScoresAloneAndTheClientTakesTheHighest() throws {
        let evaluator = try evaluator()
        var state = evaluator.newClient("c")
        _ = evaluator.evaluate(&state, checkIns: [checkIn("1", 0, signs: ["s", "o"])], at: at(0))
        let score = evaluator.score(of: state, at: at(0))
        XCTAssertEqual(tiers(score), ["suicide": .moderate, "overdose": .moderate, "return_to_use": .low])
        XCTAssertEqual(score.tier, .moderate, "30 + 30 in two domains is not a high score")
        XCTAssertEqual(score.score, 30, accuracy: 1e-9)
    }

    func testACappedDomainStopsAtItsCap() throws {
        let evaluator = try evaluator()
        var state = evaluator.newClient("c")
        _ = evaluator.evaluate(
            &state, checkIns: [checkIn("1", 0, signs: ["r"]), checkIn("2", 0.1, signs: ["r"])], at: at(0.1))
        let score = evaluator.score(of: state, at: at(0.1))
        XCTAssertGreaterThan(score.domain("return_to_use")?.score ?? 0, 70)
        XCTAssertEqual(score.tier, .high, "return_to_use alone reaches high at most")
    }

    func testTheTopTierNeedsAnActiveAcuteMarker() throws {
        let evaluator = try evaluator()
        var plain = evaluator.newClient("c")
        _ = evaluator.evaluate(
            &plain, checkIns: [checkIn("1", 0, signs: ["s"]), checkIn("2", 0.1, signs: ["s", "q"])], at: at(0.1))
        let withoutMarker = evaluator.score(of: plain, at: at(0.1))
        XCTAssertGreaterThanOrEqual(withoutMarker.domain("suicide")?.score ?? 0, 70)
        XCTAssertEqual(withoutMarker.tier, .high, "a high score without an acute marker stops at high")
        XCTAssertFalse(withoutMarker.acute)

        var acute = evaluator.newClient("c")
        _ = evaluator.evaluate(
            &acute, checkIns: [checkIn("1", 0, signs: ["s"]), checkIn("2", 0.1, signs: ["a", "q"])], at: at(0.1))
        XCTAssertEqual(evaluator.score(of: acute, at: at(0.1)).tier, .imminent)

        // An overdose is acute for 24 h: the same suicide score is imminent inside that window only.
        var overdose = evaluator.newClient("c")
        _ = evaluator.evaluate(
            &overdose,
            checkIns: [
                checkIn("1", 0, signs: ["o"]), checkIn("2", 0.1, signs: ["s", "s"]), checkIn("3", 0.2, signs: ["s"]),
            ],
            at: at(0.2))
        XCTAssertTrue(evaluator.score(of: overdose, at: at(0.2)).acute)
        XCTAssertFalse(overdose.replay.score(at: at(25)).acute, "24 h after the overdose it is no longer acute")
    }

    func testAReachedTierHoldsForTheHoldThenTheEpisodeCloses() throws {
        let evaluator = try evaluator()
        var state = evaluator.newClient("c")
        _ = evaluator.evaluate(&state, checkIns: [checkIn("1", 0, signs: ["q"])], at: at(0))
        XCTAssertEqual(state.replay.score(at: at(10)).tier, .low, "the score alone has decayed after 10 h")
        let held = evaluator.score(of: state, at: at(10))
        XCTAssertEqual(held.tier, .moderate, "the tier reached holds")
        XCTAssertEqual(held.heldUntil, at(72))
        XCTAssertEqual(evaluator.score(of: state, at: at(73)).tier, .low)
        let inside = evaluator.evaluate(&state, checkIns: [checkIn("2", 30, signs: [])], at: at(30))
        XCTAssertFalse(inside.contains { if case .episode(.closed) = $0 { true } else { false } }, "held: still open")
        let after = evaluator.evaluate(&state, checkIns: [checkIn("3", 80, signs: [])], at: at(80))
        XCTAssertTrue(
            after.contains { if case .episode(.closed) = $0 { true } else { false } }, "closed after the hold")
    }

    func testElevatedDomainsMergeTheirPlansAndADomainRisingAlonePlansItsOwn() throws {
        let plans = ResponsePlans(
            [
                .moderate: [
                    TaskTemplate(kind: .followUp, schedule: .at(.hours(24)), route: "counselor", instruction: "call")
                ]
            ],
            domains: [
                "suicide": [
                    .moderate: [
                        TaskTemplate(
                            kind: .followUp, schedule: .within(.hours(8)), route: "counselor", instruction: "assess"),
                        TaskTemplate(
                            kind: .followUp, schedule: .at(.hours(24)), route: "counselor", instruction: "call"),
                    ]
                ],
                "overdose": [
                    .moderate: [
                        TaskTemplate(
                            kind: .followUp, schedule: .at(.hours(24)), route: "counselor", instruction: "call"),
                        TaskTemplate(
                            kind: .peerCheckin, schedule: .within(.hours(72)), route: "peer", instruction: "visit"),
                    ]
                ],
            ])
        let evaluator = try evaluator(plans: plans)
        var state = evaluator.newClient("c")
        let first = evaluator.evaluate(&state, checkIns: [checkIn("1", 0, signs: ["s"])], at: at(0))
        func slots(_ effects: [Effect]) -> [String] {
            effects.compactMap { if case .planned(let task, _, _) = $0 { task.slot } else { nil } }
        }
        XCTAssertEqual(slots(first), ["moderate.follow_up.8h.counselor", "moderate.follow_up.1d.counselor"])
        // Overdose rises to moderate: the client's tier is unchanged, but the overdose plan's own job
        // is planned; the shared 24 h call is not planned twice.
        let second = evaluator.evaluate(&state, checkIns: [checkIn("2", 1, signs: ["o"])], at: at(1))
        XCTAssertEqual(slots(second), ["moderate.peer_checkin.3d.peer"])
        XCTAssertEqual(state.openTasks.count, 3)
    }

    func testProtectiveFactorsChangeWhatTasksSayNotTheRisk() throws {
        let plans = ResponsePlans([
            .moderate: [
                TaskTemplate(kind: .followUp, schedule: .at(.hours(24)), route: "counselor", instruction: "Call.")
            ]
        ])
        let evaluator = try evaluator(plans: plans)
        var with = evaluator.newClient("c")
        var protected = checkIn("1", 0, signs: ["s"])
        protected.protective = ["safety_plan_reviewed", "naloxone_on_hand"]
        let effects = evaluator.evaluate(&with, checkIns: [protected], at: at(0))
        var without = evaluator.newClient("c")
        _ = evaluator.evaluate(&without, checkIns: [checkIn("1", 0, signs: ["s"])], at: at(0))
        XCTAssertEqual(evaluator.score(of: with, at: at(0)), evaluator.score(of: without, at: at(0)), "the same risk")
        let instructions = effects.compactMap {
            if case .planned(let task, _, _) = $0 { task.instruction } else { nil }
        }
        XCTAssertEqual(
            instructions,
            ["Call. Already in place, as reported in the past 72 h: naloxone_on_hand, safety_plan_reviewed."])
    }
}
