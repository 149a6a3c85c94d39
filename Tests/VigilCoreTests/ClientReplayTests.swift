import XCTest

@testable import VigilCore

/// `ClientReplay`: resuming from stored state, order-independent scores, and `absent:` rules.
final class ClientReplayTests: XCTestCase {
    let vocabulary = Vocabulary(
        signs: ["isolation"], stressors: ["job_loss"], protective: [], measures: MeasureDeclaration.forTests)
    let t0 = Timestamp(seconds: 1_790_000_000)
    let thresholds = ScoringPolicy(thresholds: TierThresholds(moderate: 20, high: 45, imminent: 70))

    func origin(_ line: Int) -> ExpressionOrigin {
        ExpressionOrigin(file: "rules.yaml", line: line, column: 11, sourceLine: "    when: EXPR")
    }

    func at(_ hours: Double) -> Timestamp { t0.adding(TimeSpan(microseconds: Int64(hours * 3_600_000_000))) }

    func event(_ hours: Double, kind: CheckIn.Kind = .checkin, signs: [String] = []) -> CheckIn {
        CheckIn(id: "e\(hours)", client: "c", at: at(hours), kind: kind, source: .peer, signs: signs)
    }

    /// Rising-risk rules (the second looks back 14 days) and a 48 h absence rule for clients at
    /// moderate or higher.
    func ruleSet(tierAtLeast: Tier = .moderate) throws -> RuleSet {
        var source = RuleSource()
        source.rules = [
            RuleDefinition(
                id: "isolation", origin: origin(1), summary: "s",
                condition: SourceText(#""isolation" in signs"#, origin: origin(2)),
                weight: 40, evidence: "test"),
            RuleDefinition(
                id: "often-isolated", origin: origin(3), summary: "s",
                condition: SourceText(#"count("isolation" in signs, 14d) >= 3"#, origin: origin(4)), weight: 5,
                evidence: "test (and a 14-day look-back, like the default pack's)"),
            RuleDefinition(
                id: "silent", origin: origin(5), summary: "s",
                condition: SourceText(#"kind == "checkin""#, origin: origin(6)),
                absence: Absence(duration: .hours(48), tierAtLeast: tierAtLeast), weight: 10, evidence: "test"),
        ]
        return try RuleSet.compile(source, vocabulary: vocabulary)
    }

    func testAbsenceFiresOnceAtItsDeadlineWhileTheTierQualifies() throws {
        var replay = ClientReplay(ruleSet: try ruleSet(), policy: thresholds)
        replay.ingest(event(0, signs: ["isolation"]))
        XCTAssertEqual(replay.nextAbsenceDue, at(48))
        XCTAssertEqual(replay.decideAbsences(dueBy: at(47)).count, 0, "not due yet")
        let decided = replay.decideAbsences(dueBy: at(60))
        XCTAssertEqual(decided.map(\.fired), [true])
        XCTAssertEqual(decided.first?.firing.at, at(48), "fired at the deadline, not when the timer ran")
        XCTAssertEqual(decided.first?.firing.event, "")
        XCTAssertEqual(replay.decideAbsences(dueBy: at(90)).count, 0, "each silence is decided once")
        XCTAssertNil(replay.nextAbsenceDue)
        XCTAssertEqual(Set(replay.activeFirings(at: at(60)).map(\.rule)), ["isolation", "silent"])

        // A new check-in restarts the clock.
        replay.ingest(event(100))
        XCTAssertEqual(replay.nextAbsenceDue, at(148))
    }

    func testAbsenceDoesNotCountBelowItsTier() throws {
        var replay = ClientReplay(ruleSet: try ruleSet(), policy: thresholds)
        replay.ingest(event(0))
        let decided = replay.decideAbsences(dueBy: at(60))
        XCTAssertEqual(decided.map(\.fired), [false], "a low-risk client's silence is decided, not fired")
        XCTAssertNil(replay.nextAbsenceDue, "and not looked at again")
        XCTAssertEqual(replay.score(at: at(60)).score, 0)
    }

    func testEverySilenceBetweenLateIngestedEventsIsFound() throws {
        var replay = ClientReplay(ruleSet: try ruleSet(tierAtLeast: .low), policy: thresholds)
        var decided: [SilenceDecision] = []
        for hours in [0.0, 30, 100, 120, 200] { decided += replay.ingest(event(hours)).silences }
        XCTAssertEqual(decided.map(\.firing.at), [at(78), at(168)], "decided while ingesting the event after each gap")
        decided += replay.decideAbsences(dueBy: at(300))
        XCTAssertEqual(decided.map(\.firing.at), [at(78), at(168), at(248)], "gaps 30→100, 120→200, 200→")
        // Silences older than the look-back before the newest event are no longer kept to be found.
        var late = ClientReplay(ruleSet: try ruleSet(tierAtLeast: .low), policy: thresholds)
        var silences: [SilenceDecision] = []
        for hours in [0.0, 100, 500] { silences += late.ingest(event(hours)).silences }
        silences += late.decideAbsences(dueBy: at(600))
        XCTAssertEqual(silences.map(\.firing.at), [at(48), at(148), at(548)], "none lost to the look-back")
    }

    func testALateCheckInInsideADecidedSilenceDoesNotCountItTwice() throws {
        var replay = ClientReplay(ruleSet: try ruleSet(tierAtLeast: .low), policy: thresholds)
        replay.ingest(event(0))
        replay.ingest(event(100))  // decides the silence 0 → 48
        XCTAssertEqual(replay.activeFirings(at: at(100)).filter { $0.rule == "silent" }.map(\.at), [at(48)])
        replay.ingest(event(10))  // arrives late, inside the silence already decided
        XCTAssertEqual(replay.decideAbsences(dueBy: at(140)).map(\.firing.at), [], "58 h is the same gap")
        XCTAssertEqual(replay.activeFirings(at: at(140)).filter { $0.rule == "silent" }.count, 1)
        XCTAssertEqual(replay.decideAbsences(dueBy: at(200)).map(\.firing.at), [at(148)], "a new gap after 100 h")
    }

    func testASilenceIsDecidedBeforeALaterEventMovesTheLookBack() throws {
        // The absence duration is the rule set's longest span: recording an event at 48.01 h drops the
        // match at 0 h from the history, so its silence must be decided first.
        var source = RuleSource()
        source.rules = [
            RuleDefinition(
                id: "silent", origin: origin(5), summary: "s",
                condition: SourceText(#"kind == "checkin""#, origin: origin(6)),
                absence: Absence(duration: .hours(48)), weight: 10, evidence: "test")
        ]
        var replay = ClientReplay(ruleSet: try RuleSet.compile(source, vocabulary: vocabulary), policy: thresholds)
        replay.ingest(event(0))
        let ingested = replay.ingest(event(48.01, kind: .overdose))
        XCTAssertEqual(ingested.silences.map(\.firing.at), [at(48)])
        XCTAssertEqual(replay.score(at: at(48.01)).score, 10, accuracy: 0.01, "and it counts in the event's score")
    }

    func testEventsOfOtherKindsDoNotBreakTheSilence() throws {
        var replay = ClientReplay(ruleSet: try ruleSet(tierAtLeast: .low), policy: thresholds)
        replay.ingest(event(0))
        replay.ingest(event(24, kind: .missedAppointment))
        XCTAssertEqual(replay.decideAbsences(dueBy: at(49)).map(\.firing.at), [at(48)])
    }

    func testResumedReplayMatchesTheContinuousOne() throws {
        let set = try ruleSet(tierAtLeast: .low)
        var continuous = ClientReplay(ruleSet: set, policy: thresholds)
        let events = (0..<40).map { event(Double($0) * 7, signs: $0 % 3 == 0 ? ["isolation"] : []) }
        var history: [CheckIn] = []
        var firings: [Firing] = []
        for (index, checkIn) in events.enumerated() {
            if index == 25 {
                let resumed = ClientReplay(
                    ruleSet: set, policy: thresholds, history: history, firings: firings.reversed(),
                    decidedSilences: continuous.decidedSilences)
                XCTAssertEqual(resumed.history.facts, continuous.history.facts)
                XCTAssertEqual(
                    resumed.score(at: checkIn.at), continuous.score(at: checkIn.at), "firing order is irrelevant")
            }
            history.append(checkIn)
            firings += continuous.ingest(checkIn).fired
        }
    }

    /// The in-order fast path decides exactly what a full scan would: a replay rebuilt before every
    /// event (which always scans) decides the same silences on random streams with late events.
    func testInOrderShortcutDecidesWhatAFullScanDecides() throws {
        let set = try ruleSet(tierAtLeast: .low)
        var decided = 0
        for seed in 0..<40 {
            var random = UInt64(seed) &+ 1
            func next(_ bound: Int) -> Int {
                random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Int((random >> 33) % UInt64(bound))
            }
            var hours = 0.0
            var events: [CheckIn] = []
            for index in 0..<60 {
                hours += Double(5 + next(60))
                let late = next(6) == 0 ? Double(next(120)) : 0
                let kind: CheckIn.Kind = next(4) == 0 ? .contact : .checkin
                var checkIn = event(max(0, hours - late), kind: kind, signs: next(3) == 0 ? ["isolation"] : [])
                checkIn.id = "s\(seed)-\(index)"
                events.append(checkIn)
            }
            var continuous = ClientReplay(ruleSet: set, policy: thresholds)
            var fast: [SilenceDecision] = []
            var history: [CheckIn] = []
            var firings: [Firing] = []
            var scanned: [SilenceDecision] = []
            for checkIn in events {
                var rebuilt = ClientReplay(
                    ruleSet: set, policy: thresholds, history: history, firings: firings,
                    decidedSilences: continuous.decidedSilences)
                let reference = rebuilt.ingest(checkIn)
                scanned += reference.silences
                let ingested = continuous.ingest(checkIn)
                fast += ingested.silences
                history.append(checkIn)
                firings += ingested.silences.filter(\.fired).map(\.firing) + ingested.fired
            }
            XCTAssertEqual(fast.map(\.firing.at), scanned.map(\.firing.at), "seed \(seed)")
            XCTAssertEqual(fast.map(\.fired), scanned.map(\.fired), "seed \(seed)")
            XCTAssertEqual(fast.map(\.score), scanned.map(\.score), "seed \(seed)")
            decided += fast.count
        }
        XCTAssertGreaterThan(decided, 100, "the streams have silences to decide")
    }

    func testAbsentMatchRefusesAggregates() {
        var source = RuleSource()
        source.rules = [
            RuleDefinition(
                id: "silent", origin: origin(5), summary: "s",
                condition: SourceText(#"count(kind == "checkin", 7d) > 0"#, origin: origin(6)),
                absence: Absence(duration: .hours(48)), weight: 10, evidence: "test")
        ]
        XCTAssertThrowsError(try RuleSet.compile(source, vocabulary: vocabulary)) { error in
            let message = (error as? SourceErrors)?.errors.first?.message ?? ""
            XCTAssertTrue(message.contains("cannot be used in an absent: rule's match"), message)
        }
    }
}

/// Prefilters: read from the syntax, each a necessary condition of its rule.
final class PrefilterTests: XCTestCase {
    func prefilter(_ text: String, conditions: [String: Prefilter] = [:]) throws -> Prefilter {
        let origin = ExpressionOrigin(file: "r.yaml", line: 1, column: 1, sourceLine: text)
        return Prefilter.of(try Parser.parse(text, origin: origin), conditions: conditions)
    }

    func testShapes() throws {
        XCTAssertEqual(try prefilter(#"kind == "overdose""#), .kind(.overdose))
        XCTAssertEqual(try prefilter(#""isolation" in signs"#), .codes(.signs))
        XCTAssertEqual(try prefilter(#"any(stressors, ["job_loss"])"#), .codes(.stressors))
        XCTAssertEqual(try prefilter("size(protective) > 0"), .codes(.protective))
        XCTAssertEqual(try prefilter("size(protective) >= 0"), .always, "true for an empty list")
        XCTAssertEqual(try prefilter("measure.sleep_hours < 5 and count(true, 3d) >= 2"), .measure(.sleepHours))
        XCTAssertEqual(try prefilter("avg(measure.mood, 14d) - 3 >= measure.mood"), .measure(.mood))
        XCTAssertEqual(try prefilter("measure.mood != 3"), .always, "!= is true when the measure is missing")
        XCTAssertEqual(try prefilter("measure.energy < 3"), .always, "only known measures have slots")
        XCTAssertEqual(try prefilter("screening.intent or screening.plan"), .screening)
        XCTAssertEqual(try prefilter(#"screening.intent or kind == "overdose""#), .always)
        XCTAssertEqual(try prefilter(#"not (kind == "overdose")"#), .always)
        XCTAssertEqual(try prefilter("x and measure.mood < 2", conditions: ["x": .kind(.checkin)]), .kind(.checkin))
    }

    func testAdmits() {
        let quiet = CheckIn(id: "e", client: "c", at: Timestamp(seconds: 0), kind: .checkin, source: .peer)
        XCTAssertTrue(Prefilter.always.admits(quiet))
        XCTAssertTrue(Prefilter.kind(.checkin).admits(quiet))
        XCTAssertFalse(Prefilter.kind(.overdose).admits(quiet))
        XCTAssertFalse(Prefilter.codes(.signs).admits(quiet))
        XCTAssertFalse(Prefilter.screening.admits(quiet))
        XCTAssertFalse(Prefilter.measure(.mood).admits(quiet))
        var told = quiet
        told.signs = ["isolation"]
        told.measures = [("mood", 2)]
        XCTAssertTrue(Prefilter.codes(.signs).admits(told))
        XCTAssertTrue(Prefilter.measure(.mood).admits(told), "known slots follow the measures")
    }

    /// Every prefilter has its own bit, and each admits exactly the events with its feature: an
    /// event of every kind, with each list, the screening and each known measure alone.
    func testEachPrefilterHasItsOwnBit() {
        let every: [Prefilter] =
            [.always, .screening] + CheckIn.Kind.allCases.map(Prefilter.kind)
            + Vocabulary.List.allCases.map(Prefilter.codes) + KnownMeasures.Name.allCases.map(Prefilter.measure)
        XCTAssertEqual(Set(every.map(\.bit)).count, every.count, "two prefilters share a bit")
        XCTAssertEqual(every.reduce(0) { $0 | $1.bit }.nonzeroBitCount, every.count)
        var events: [CheckIn] = CheckIn.Kind.allCases.map {
            CheckIn(id: "e", client: "c", at: Timestamp(seconds: 0), kind: $0, source: .peer)
        }
        let quiet = events[0]
        for list in Vocabulary.List.allCases {
            var event = quiet
            switch list {
            case .signs: event.signs = ["isolation"]
            case .stressors: event.stressors = ["job_loss"]
            case .protective: event.protective = ["naloxone_on_hand"]
            }
            events.append(event)
        }
        var screened = quiet
        screened.screening = CheckIn.Screening(wishDead: false, suicidalThoughts: false, behaviorPast3Months: false)
        events.append(screened)
        for name in KnownMeasures.Name.allCases {
            var event = quiet
            event.measures = [(name.rawValue, 1)]
            events.append(event)
        }
        for event in events {
            for filter in every {
                let expected: Bool
                switch filter {
                case .always: expected = true
                case .kind(let kind): expected = event.kind == kind
                case .codes(.signs): expected = !event.signs.isEmpty
                case .codes(.stressors): expected = !event.stressors.isEmpty
                case .codes(.protective): expected = !event.protective.isEmpty
                case .screening: expected = event.screening != nil
                case .measure(let name): expected = event.known[name] != nil
                }
                XCTAssertEqual(filter.admits(event), expected, "\(filter) on \(event.kind) \(event.measures)")
            }
        }
    }
}
