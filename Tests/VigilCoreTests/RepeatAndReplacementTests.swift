import XCTest

@testable import VigilCore

/// `repeat: once_per` (a sign reported again within the window counts once, the newest) and
/// `replaced_by:` (a later matching event ends a rule's earlier firings), in any arrival order.
final class RepeatAndReplacementTests: XCTestCase {
    let t0 = Timestamp(seconds: 1_790_000_000)
    let policy = ScoringPolicy(thresholds: TierThresholds(moderate: 20, high: 45, imminent: 70))

    func at(_ hours: Double) -> Timestamp { t0.adding(TimeSpan(microseconds: Int64(hours * 3_600_000_000))) }

    /// `iso` (10, once per 7 days) and `pos` (a positive screening: 30, counts 30 days unless the
    /// next screening replaces it).
    func ruleSet() throws -> RuleSet {
        func origin(_ line: Int) -> ExpressionOrigin {
            ExpressionOrigin(file: "rules.yaml", line: line, column: 11, sourceLine: "    when: EXPR")
        }
        var source = RuleSource()
        source.rules = [
            RuleDefinition(
                id: "iso", origin: origin(1), summary: "isolation",
                condition: SourceText("\"iso\" in signs", origin: origin(2)), weight: 10, evidence: "test",
                repeatWindow: .days(7)),
            RuleDefinition(
                id: "pos", origin: origin(3), summary: "positive screening",
                condition: SourceText("screening.wish_dead", origin: origin(4)), weight: 30, evidence: "test",
                activeFor: .days(30), replacedBy: SourceText("kind == \"screening\"", origin: origin(5))),
        ]
        return try RuleSet.compile(source, vocabulary: Vocabulary(signs: ["iso"], stressors: [], protective: []))
    }

    func sign(_ id: String, _ hours: Double) -> CheckIn {
        CheckIn(id: id, client: "c", at: at(hours), kind: .checkin, source: .peer, signs: ["iso"])
    }

    func screening(_ id: String, _ hours: Double, positive: Bool) -> CheckIn {
        CheckIn(
            id: id, client: "c", at: at(hours), kind: .screening, source: .clinician,
            screening: CheckIn.Screening(wishDead: positive, suicidalThoughts: false, behaviorPast3Months: false))
    }

    func counted(_ events: [CheckIn], at hours: Double) throws -> (rules: [String], score: Double) {
        var replay = ClientReplay(ruleSet: try ruleSet(), policy: policy)
        for event in events { replay.ingest(event) }
        return (replay.activeFirings(at: at(hours)).map(\.event).sorted(), replay.score(at: at(hours)).score)
    }

    func testARepeatedSignCountsOncePerWindowTheNewest() throws {
        let (events, score) = try counted([sign("a", 0), sign("b", 24), sign("c", 48)], at: 48)
        XCTAssertEqual(events, ["c"], "three reports in a week count once, the newest")
        XCTAssertEqual(score, 10, accuracy: 1e-9)
        let (apart, _) = try counted([sign("a", 0), sign("b", 24 * 8)], at: 24 * 8)
        XCTAssertEqual(apart, ["a", "b"], "eight days apart: both count")
        let (late, _) = try counted([sign("c", 48), sign("a", 0)], at: 48)
        XCTAssertEqual(late, ["c"], "an older report arriving late is replaced at once")
    }

    func testAScreeningHoldsUntilTheNextScreeningReplacesIt() throws {
        let held = try counted([screening("s1", 0, positive: true)], at: 24 * 20)
        XCTAssertEqual(held.rules, ["s1"], "a positive result counts for its 30-day window")
        XCTAssertEqual(try counted([screening("s1", 0, positive: true)], at: 24 * 31).rules, [], "and no longer")
        let rescreened = try counted(
            [screening("s1", 0, positive: true), screening("s2", 5, positive: false)], at: 6)
        XCTAssertEqual(rescreened.rules, [], "a negative rescreen ends it")
        XCTAssertEqual(rescreened.score, 0)
        let late = try counted([screening("s2", 5, positive: false), screening("s1", 0, positive: true)], at: 6)
        XCTAssertEqual(late.rules, [], "a positive result older than the rescreen, arriving late, does not count")
    }

    func testEndedFiringsAreReportedSoTheStoreCanRebuildTheSameState() throws {
        var replay = ClientReplay(ruleSet: try ruleSet(), policy: policy)
        replay.ingest(sign("a", 0))
        let second = replay.ingest(sign("b", 24))
        XCTAssertEqual(second.ended.map(\.event), ["a"])
        let kept = replay.firings
        let rebuilt = ClientReplay(
            ruleSet: try ruleSet(), policy: policy, history: [sign("a", 0), sign("b", 24)], firings: kept)
        XCTAssertEqual(rebuilt.score(at: at(30)), replay.score(at: at(30)))
    }
}
