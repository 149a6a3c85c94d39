// libFuzzer target for the rule language: lexer, parser, type checker and compiler, and the
// evaluation of what compiles over a short history. Built with `-sanitize=fuzzer,address` (see
// scripts/fuzz); libFuzzer's driver calls it for every input. A refusal (SourceErrors) is the
// expected answer to a bad rule; a crash, trap or sanitizer report is a bug. Built without the
// sanitizer, it refuses to run (exit 64).
import FuzzSupport
import VigilCore

/// The fixed inputs, built once.
enum Fixture {
    static let events: [CheckIn] = (0..<6).map(sampleEvent)
}

/// A varied check-in: screenings, signs, a stressor, measures with a slot (`KnownMeasures`) and without.
func sampleEvent(_ index: Int) -> CheckIn {
    let mood = Double(index)
    let craving = Double(9 - index)
    let screening: CheckIn.Screening? =
        index % 3 == 0
        ? CheckIn.Screening(wishDead: true, suicidalThoughts: index > 2, behaviorPast3Months: false) : nil
    return CheckIn(
        id: "e\(index)", client: "c-1", at: FuzzSupport.now.adding(.hours(Int64(index * 7))),
        kind: screening == nil ? .checkin : .screening, source: .peer,
        measures: [("mood", mood), ("craving", craving), ("steps", 1e4)],
        signs: index % 2 == 0 ? ["isolation"] : [], stressors: index == 4 ? ["job_loss"] : [], screening: screening)
}

FuzzSupport.run { data, size in
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let origin = ExpressionOrigin(file: "fuzz.yaml", line: 1, column: 1, sourceLine: text)
    var source = RuleSource()
    source.rules.append(
        RuleDefinition(
            id: "fuzz", origin: origin, summary: "fuzz", condition: SourceText(text, origin: origin), weight: 30,
            evidence: "fuzz"))
    guard let ruleSet = try? RuleSet.compile(source, vocabulary: FuzzSupport.vocabulary) else { return 0 }
    var replay = ClientReplay(
        ruleSet: ruleSet, policy: ScoringPolicy(thresholds: TierThresholds(moderate: 20, high: 45, imminent: 70)))
    for event in Fixture.events {
        _ = replay.ingest(event)
        _ = replay.score(at: event.at)
    }
    _ = replay.decideAbsences(dueBy: FuzzSupport.now.adding(.days(30)))
    return 0
}
