import XCTest

@testable import VigilCore

final class RuleLanguageTests: XCTestCase {
    let vocabulary = Vocabulary(
        signs: ["isolation", "hopelessness", "romanticizing_use"],
        stressors: ["job_loss", "conflict_at_home", "legal"],
        protective: ["naloxone_on_hand"], measures: MeasureDeclaration.forTests)
    let t0 = Timestamp(seconds: 1_790_000_000)

    func origin(_ line: Int = 3) -> ExpressionOrigin {
        ExpressionOrigin(file: "rules.yaml", line: line, column: 11, sourceLine: "    when: EXPR")
    }

    /// Compiles one rule with `when` and returns its rule set, or the errors.
    func ruleSet(_ when: String, conditions: [(String, String)] = [], lists: [(String, [String])] = [])
        throws(SourceErrors) -> RuleSet
    {
        var source = RuleSource()
        source.rules = [
            RuleDefinition(
                id: "r", origin: origin(2), summary: "s", condition: SourceText(when, origin: origin()), weight: 10,
                evidence: "test")
        ]
        source.conditions = conditions.enumerated().map { ($1.0, SourceText($1.1, origin: origin(20 + $0))) }
        source.lists = lists.map { ($0.0, $0.1, origin(30)) }
        return try RuleSet.compile(source, vocabulary: vocabulary)
    }

    func errors(_ when: String, conditions: [(String, String)] = []) -> [SourceError] {
        do {
            _ = try ruleSet(when, conditions: conditions)
            return []
        } catch {
            return error.errors
        }
    }

    func event(
        _ hours: Double, kind: CheckIn.Kind = .checkin, measures: [(String, Double)] = [], signs: [String] = [],
        stressors: [String] = [], screening: CheckIn.Screening? = nil
    ) -> CheckIn {
        CheckIn(
            id: "e\(hours)", client: "c", at: t0.adding(TimeSpan(microseconds: Int64(hours * 3_600_000_000))),
            kind: kind,
            source: .peer, measures: measures.map { (name: $0.0, value: $0.1) }, signs: signs, stressors: stressors,
            screening: screening)
    }

    /// Whether the rule `when` fires on the last of `events` (the others being its history).
    func fires(
        _ when: String, _ events: [CheckIn], conditions: [(String, String)] = [], lists: [(String, [String])] = []
    ) throws -> Bool {
        let set = try ruleSet(when, conditions: conditions, lists: lists)
        var history = set.emptyHistory()
        for event in events.dropLast() { set.record(ObservedEvent(event), in: &history) }
        return !set.firings(for: ObservedEvent(events[events.count - 1]), history: history).isEmpty
    }

    func testFieldsOperatorsAndPrecedence() throws {
        let e = event(
            0, kind: .crisisCall, measures: [("mood", 2), ("craving", 8)], signs: ["isolation"], stressors: ["job_loss"]
        )
        XCTAssertTrue(try fires(#"kind == "crisis_call" and source == "peer""#, [e]))
        XCTAssertTrue(try fires(#"measure.mood < 3 or measure.craving < 1 and false"#, [e]))
        XCTAssertFalse(try fires(#"(measure.mood < 3 or measure.craving < 1) and false"#, [e]))
        XCTAssertTrue(try fires(#"not measure.mood >= 3"#, [e]))
        XCTAssertTrue(try fires(#"measure.craving - measure.mood * 2 == 4"#, [e]))
        XCTAssertTrue(try fires(#"-measure.mood == -2 and measure.craving / 4 == 2"#, [e]))
        XCTAssertTrue(try fires(#""isolation" in signs and not ("hopelessness" in signs)"#, [e]))
        XCTAssertTrue(try fires(#"kind in ["crisis_call", "ed_visit"]"#, [e]))
        XCTAssertTrue(try fires(#"size(stressors) == 1 and any(stressors, ["legal", "job_loss"])"#, [e]))
        XCTAssertTrue(try fires(#"has(measure.mood) and not has(measure.stress)"#, [e]))
    }

    func testMissingMeasuresMakeComparisonsFalse() throws {
        let e = event(0)
        XCTAssertFalse(try fires("measure.mood < 3", [e]))
        XCTAssertFalse(try fires("measure.mood >= 3", [e]))
        XCTAssertFalse(try fires("measure.mood + 1 == 1", [e]))
        XCTAssertFalse(try fires("measure.mood / 0 == 1", [event(0, measures: [("mood", 1)])]))
    }

    func testScreeningAnswers() throws {
        let yes = CheckIn.Screening(wishDead: true, suicidalThoughts: true, method: true, behaviorPast3Months: false)
        let e = event(0, kind: .screening, screening: yes)
        XCTAssertTrue(try fires("screening.method and not screening.intent", [e]))
        XCTAssertTrue(try fires("has(screening.method) and not has(screening.plan)", [e]))
        XCTAssertFalse(try fires("screening.wish_dead", [event(0)]))
    }

    func testWindowedAggregates() throws {
        let history = [
            event(0, measures: [("mood", 6), ("sleep_hours", 4)], stressors: ["job_loss"]),
            event(24, measures: [("mood", 7)]),
            event(48, measures: [("mood", 5), ("sleep_hours", 4.5)], stressors: ["conflict_at_home"]),
            event(70, measures: [("mood", 2), ("sleep_hours", 3)]),
        ]
        // Two or more stressors within a week.
        XCTAssertTrue(try fires("count(size(stressors) > 0, 7d) >= 2", history))
        XCTAssertFalse(try fires("count(size(stressors) > 0, 20h) >= 1", history))
        // Mood 3 below its two-week average (avg over 6,7,5,2 = 5).
        XCTAssertTrue(try fires("measure.mood <= avg(measure.mood, 14d) - 3", history))
        XCTAssertTrue(try fires("min(measure.mood, 14d) == 2 and max(measure.mood, 14d) == 7", history))
        // The window is (at - w, at]: the event 70 h earlier is outside a 70 h window.
        XCTAssertTrue(try fires("count(true, 70h) == 3", history))
        // Second night of under 5 h sleep in 3 days.
        XCTAssertTrue(try fires("measure.sleep_hours < 5 and count(measure.sleep_hours < 5, 3d) >= 2", history))
        // last() is the previous reported value; since() the time since the previous match.
        XCTAssertTrue(try fires("last(measure.mood) == 5 and last(measure.sleep_hours) == 4.5", history))
        XCTAssertTrue(try fires(#"since("job_loss" in stressors) == 70h"#, history))
        XCTAssertFalse(try fires(#"since(kind == "overdose") < 1000d"#, history))
    }

    func testEventsObservedLaterDoNotCountInAnEarlierEventsWindow() throws {
        let late = [event(48, measures: [("mood", 1)]), event(10, measures: [("mood", 9)])]
        XCTAssertTrue(try fires("count(true, 7d) == 1 and last(measure.mood) == 9 or count(true, 7d) == 1", late))
        XCTAssertFalse(try fires("last(measure.mood) == 1", late))
    }

    func testSharedConditionsAndLists() throws {
        let e = event(0, signs: ["isolation"], stressors: ["legal"])
        XCTAssertTrue(
            try fires(
                "withdrawn and any(stressors, cascade)", [e], conditions: [("withdrawn", #""isolation" in signs"#)],
                lists: [("cascade", ["job_loss", "legal"])]))
        XCTAssertTrue(try fires("b", [e], conditions: [("a", #""isolation" in signs"#), ("b", "a and true")]))
    }

    /// Each class of mistake is reported at its line and column, with the line and a caret.
    func testErrorsAreLocatedAndSpecific() {
        let cases: [(String, Int, String)] = [
            ("measure.mood <", 15, "expected a value, found end of expression"),
            ("kind == \"ed_vist\"", 9, "'ed_vist' is not a possible value"),
            ("\"isolaton\" in signs", 1, "unknown code 'isolaton' in signs (vocabulary.yaml); did you mean isolation?"),
            ("moood < 3", 1, "unknown field 'moood'"),
            ("measure.mood", 1, "a condition must be boolean, but this is a number"),
            ("kind < 3", 6, "'<' cannot combine a string with a number"),
            ("counts(true, 7d) > 1", 1, "unknown function 'counts'; did you mean count?"),
            ("count(true, 7) > 1", 13, "the window must be a duration literal"),
            ("count(count(true, 1d) > 0, 7d) > 1", 7, "aggregates cannot be nested"),
            ("avg(kind, 7d) > 1", 5, "must be a number"),
            ("note == \"x\"", 1, "the note is private"),
            ("screening.mood", 1, "unknown screening answer 'mood'"),
            ("measure.cravng > 3", 1, "unknown measure 'cravng' (vocabulary.yaml: measures); did you mean craving?"),
            ("has(measure.slep_hours)", 5, "unknown measure 'slep_hours'"),
            ("avg(measure.moud, 7d) > 3", 5, "unknown measure 'moud'"),
            ("measure.mood < 3 3", 18, "unexpected number 3.0"),
            ("measure.mood < 3 < 4", 18, "unexpected '<'"),
            ("kind == \"x", 9, "unterminated string"),
            ("kind @ 3", 6, "unexpected character '@'"),
            ("any(signs, [\"job_loss\"])", 12, "unknown code 'job_loss' in signs"),
            ("\"x\" in kind", 5, "'in' cannot combine"),
        ]
        for (text, offset, phrase) in cases {
            let found = errors(text)
            XCTAssertEqual(found.count, 1, "\(text): \(found)")
            guard let error = found.first else { continue }
            XCTAssertEqual(error.file, "rules.yaml")
            XCTAssertEqual(error.line, 3, text)
            XCTAssertEqual(error.column, 11 + offset - 1, "\(text): \(error)")
            XCTAssertTrue(error.message.contains(phrase), "\(error.message) should contain \(phrase)")
            XCTAssertTrue(error.description.hasPrefix("rules.yaml:3:\(11 + offset - 1): "), error.description)
            XCTAssertTrue(error.description.hasSuffix("^"), "the caret under the column: \(error.description)")
        }
    }

    /// Nesting past `Parser.deepest` (brackets, `not`, a long chain of operators) is refused with an
    /// error, never a stack overflow (libFuzzer found `[[[[…` 2,653 deep).
    func testHostileNestingIsRefusedNotACrash() {
        for text in [
            String(repeating: "[", count: 5000), String(repeating: "not ", count: 5000) + "true",
            String(repeating: "(", count: 5000) + "true" + String(repeating: ")", count: 5000),
            Array(repeating: "\"isolation\" in signs", count: 2000).joined(separator: " or "),
            String(repeating: "-", count: 5000) + "1 > 0",
        ] {
            let found = errors(text)
            XCTAssertEqual(found.count, 1, String(text.prefix(40)))
            XCTAssertTrue(found.first?.message.contains("nests too deeply") ?? false, "\(found)")
        }
        XCTAssertEqual(errors(Array(repeating: "\"isolation\" in signs", count: 40).joined(separator: " or ")), [])
    }

    /// Rules read the client's plan in force at the event's time: its own warning signs and
    /// triggers, its pathways; type-checked like the event's own lists.
    func testRulesReadTheClientsPlanAtTheEventsTime() throws {
        let plan = RecoveryPlan(
            triggers: ["legal"], warningSigns: ["isolation"], pathways: [.peer],
            caringContacts: .init(consent: true, channel: .text), coping: "private")
        var planEvent = event(1)
        planEvent.kind = .plan
        planEvent.plan = plan
        let own = event(2, signs: ["isolation"])
        XCTAssertTrue(try fires("any(signs, plan.warning_signs)", [planEvent, own]))
        XCTAssertFalse(try fires("any(signs, plan.warning_signs)", [own]), "no plan: nothing of one's own")
        XCTAssertFalse(try fires("any(signs, plan.warning_signs)", [planEvent, event(3, signs: ["hopelessness"])]))
        XCTAssertTrue(try fires("any(stressors, plan.triggers)", [planEvent, event(3, stressors: ["legal"])]))
        XCTAssertTrue(try fires("has(plan) and \"peer\" in plan.pathway", [planEvent, event(3)]))
        XCTAssertTrue(try fires("size(plan.warning_signs) == 1", [planEvent, event(3)]))
        XCTAssertFalse(try fires("has(plan)", [planEvent, event(0.5)]), "an event observed before the plan")
        for (text, phrase) in [
            ("any(signs, plan.triggers)", "does not hold signs codes"),
            ("\"peers\" in plan.pathway", "'peers' is not a possible value"),
            ("plan.coping == \"x\"", "private free text"),
            ("count(has(plan), 7d) > 0", "cannot be read inside an aggregate"),
            ("\"jobloss\" in plan.triggers", "unknown code 'jobloss' in stressors"),
        ] {
            let found = errors(text)
            XCTAssertEqual(found.count, 1, "\(text): \(found)")
            XCTAssertTrue(found.first?.message.contains(phrase) ?? false, "\(text): \(found)")
        }
    }

    /// A mistake in each operand of an operator: both are reported, at their places.
    func testEachOperandsMistakeIsReported() {
        let found = errors(#"measure.cravng > 3 or ("isolaton" in signs and moood < 3)"#)
        XCTAssertEqual(found.map(\.column), [11, 34, 58], "\(found)")
        XCTAssertEqual(
            found.map(\.message),
            [
                "unknown measure 'cravng' (vocabulary.yaml: measures); did you mean craving?",
                "unknown code 'isolaton' in signs (vocabulary.yaml); did you mean isolation?",
                "unknown field 'moood'",
            ])
    }

    func testEveryErrorIsReportedAndDuplicatesAndIDsAreChecked() {
        var source = RuleSource()
        let bad = SourceText("nope", origin: origin())
        source.rules = [
            RuleDefinition(id: "same", origin: origin(1), summary: "", condition: bad, weight: 1, evidence: ""),
            RuleDefinition(
                id: "same", origin: origin(5), summary: "", condition: SourceText("true", origin: origin(6)), weight: 1,
                evidence: ""),
            RuleDefinition(
                id: "Not_Kebab", origin: origin(9), summary: "", condition: SourceText("true", origin: origin(10)),
                weight: 1, evidence: ""),
        ]
        do {
            _ = try RuleSet.compile(source, vocabulary: vocabulary)
            XCTFail("compiled")
        } catch {
            XCTAssertEqual(error.errors.map(\.line), [3, 5, 9])
            XCTAssertTrue(error.errors[1].message.contains("duplicate rule id 'same'"))
            XCTAssertTrue(error.errors[2].message.contains("kebab-case"))
        }
    }

    func testLookBackIsTheLongestWindow() throws {
        XCTAssertEqual(try ruleSet("count(true, 14d) > 0 or avg(measure.mood, 2d) > 1").lookBack, .days(14))
        XCTAssertEqual(try ruleSet("kind == \"checkin\"").lookBack, TimeSpan(microseconds: 0))
        XCTAssertEqual(try ruleSet("last(measure.mood) > 1").lookBack, .days(30))
    }

    func testScoreDecaysAndFloorsHold() {
        let thresholds = ScoringPolicy(thresholds: TierThresholds(moderate: 20, high: 45, imminent: 70))
        let firings = [
            Firing(rule: "a", event: "e1", at: t0, weight: 40, halfLife: .hours(24)),
            Firing(rule: "b", event: "e2", at: t0, weight: -10, halfLife: .hours(24)),
        ]
        let now = RiskScore(contributions: firings.map(\.contribution), at: t0, policy: thresholds)
        XCTAssertEqual(now.score, 30)
        XCTAssertEqual(now.tier, .moderate)
        let dayLater = RiskScore(
            contributions: firings.map(\.contribution), at: t0.adding(.hours(24)), policy: thresholds)
        XCTAssertEqual(dayLater.score, 15, accuracy: 1e-9)
        XCTAssertEqual(dayLater.tier, .low)
        XCTAssertEqual(
            RiskScore(contributions: firings.map(\.contribution), at: t0.adding(.hours(96)), policy: thresholds)
                .score, 0)
        let clamped = RiskScore(
            contributions: [Firing(rule: "x", event: "e", at: t0, weight: 500, halfLife: .hours(1)).contribution],
            at: t0, policy: thresholds)
        XCTAssertEqual(clamped.score, 100)
        let floored = [Firing(rule: "c", event: "e", at: t0, weight: 1, halfLife: .hours(72), floor: .imminent)]
        XCTAssertEqual(
            RiskScore(contributions: floored.map(\.contribution), at: t0.adding(.hours(200)), policy: thresholds)
                .tier, .imminent)
        XCTAssertEqual(
            RiskScore(contributions: floored.map(\.contribution), at: t0.adding(.hours(300)), policy: thresholds)
                .tier, .low,
            "expired after 4 half-lives")
    }
}
