import Foundation
import XCTest

/// `vigil rules check`: the shipped pack is sound; mistakes are reported as FILE:LINE:COL with a caret.
final class RulesCheckTests: XCTestCase {
    func testTheShippedPackChecksClean() throws {
        let harness = try Harness()
        let result = try harness.run(["rules", "check", "--strict", Harness.repository + "/Rules"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("rules in 4 files OK"), result.stdout)
    }

    /// `--strict` (CI and the unit's ExecReload) refuses a code that no rule reads and `unscored:`
    /// does not explain, located in vocabulary.yaml; without `--strict` the pack still loads.
    func testStrictRefusesACodeNoRuleReads() throws {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        try removeRule("giving-away-possessions", from: rules + "/suicide-warning-signs.yaml")
        let vocabulary = rules + "/vocabulary.yaml"
        let listed = try String(contentsOfFile: vocabulary, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        let line = try XCTUnwrap(listed.firstIndex { $0.hasPrefix("  - giving_away_possessions") }) + 1
        let strict = try harness.run(["rules", "check", "--strict", rules])
        XCTAssertEqual(strict.status, 1, "\(strict)")
        XCTAssertTrue(
            strict.stderr.contains(
                "vocabulary.yaml:\(line):5: key 'signs': code 'giving_away_possessions' is read by no rule"),
            strict.stderr)
        XCTAssertTrue(strict.stderr.contains(": 1 error"), strict.stderr)
        XCTAssertEqual(try harness.run(["rules", "check", rules]).status, 0, "not strict: the pack loads")

        // Explained under unscored:, it passes; listed there while a rule reads it, it does not.
        let explained =
            try String(contentsOfFile: vocabulary, encoding: .utf8)
            + "  giving_away_possessions: \"scored by the team's local pack instead\"\n"
        try explained.write(toFile: vocabulary, atomically: true, encoding: .utf8)
        XCTAssertEqual(try harness.run(["rules", "check", "--strict", rules]).status, 0)
        let contradicted = explained + "  hopelessness: \"not scored\"\n"
        try contradicted.write(toFile: vocabulary, atomically: true, encoding: .utf8)
        let contradiction = try harness.run(["rules", "check", "--strict", rules])
        XCTAssertTrue(
            contradiction.stderr.contains("code 'hopelessness' is listed under unscored: but a rule reads it"),
            contradiction.stderr)
    }

    func testEveryMistakeIsLocated() throws {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        try """
        rules:
          - id: bad-one
            summary: x
            when: kind == "ed_vist"
            weight: 5
            evidence: e
            domain: suicide
          - id: bad-two
            summary: y
            when: '"isolaton" in signs'
            weight: 5
            evidence: e
            domain: suicide
          - id: bad-one
            summary: z
            when: |
              count(true, 7d) > 1
                and moood < 3
            weight: 3
            evidence: e
            domain: suicide
          - id: no-weight
            summary: w
            when: "true"
            evidence: e
            domain: suicide
          - id: both
            summary: v
            when: "true"
            absent: {match: "true", for: 48h}
            weight: 1
            evidence: e
            domain: suicide
          - id: silent-aggregate
            summary: u
            absent:
              match: 'count(kind == "checkin", 7d) > 0'
              for: 2d
            weight: 1
            evidence: e
            domain: suicide
          - id: silent-forever
            summary: t
            absent: {match: 'kind == "checkin"', tier_at_least: severe}
            weight: 1
            evidence: e
            domain: suicide
        """.write(toFile: rules + "/broken.yaml", atomically: true, encoding: .utf8)
        let result = try checkReports(
            rules, harness,
            [
                "broken.yaml:4:19: 'ed_vist' is not a possible value",
                "broken.yaml:10:12: unknown code 'isolaton' in signs (vocabulary.yaml); did you mean isolation?",
                "broken.yaml:14:9: duplicate rule id 'bad-one'",
                "broken.yaml:18:13: unknown field 'moood'",
                "broken.yaml:22:5: rule is missing 'weight'",
                "broken.yaml:30:13: rule 'both': give exactly one of when: or absent:, not both",
                "broken.yaml:37:15: count(…) cannot be used in an absent: rule's match",
                "rule 'silent-forever': absent: needs for:, a duration such as 48h",
                "broken.yaml:44:57: rule 'silent-forever': tier_at_least must be one of low, moderate, high, imminent",
                "9 errors",
            ])
        XCTAssertTrue(result.stderr.contains("          and moood < 3\n              ^"), result.stderr)
    }

    func testOutOfRangeDurationsAndHiddenAggregatesAreErrorsNotCrashes() throws {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        try """
        conditions:
          busy: count(kind == "checkin", 1d) >= 1
        rules:
          - id: forever
            summary: x
            when: "true"
            half_life: 50000000d
            weight: 1
            evidence: e
            domain: suicide
          - id: huge-window
            summary: y
            when: count(true, 99999999999999999999d) > 1
            weight: 1
            evidence: e
            domain: suicide
          - id: endless-silence
            summary: z
            absent: {match: 'kind == "checkin"', for: 1e300h}
            weight: 1
            evidence: e
            domain: suicide
          - id: busy-twice
            summary: w
            when: count(busy, 7d) > 1
            weight: 1
            evidence: e
            domain: suicide
          - id: busy-silence
            summary: v
            absent: {match: busy, for: 2d}
            weight: 1
            evidence: e
            domain: suicide
        """.write(toFile: rules + "/broken.yaml", atomically: true, encoding: .utf8)
        try checkReports(
            rules, harness,
            [
                "rule 'forever': half_life must be a duration such as 72h or 7d (at most 100 years)",
                "duration '99999999999999999999' is longer than 100 years",
                "rule 'endless-silence': absent: needs for:, a duration such as 48h (at most 100 years)",
                "condition 'busy' uses an aggregate, so it cannot be used inside another",
                "condition 'busy' uses an aggregate, so it cannot be used in an absent: rule's match",
                "5 errors",
            ])
    }

    /// Structural and expression mistakes of different rules are all reported in one run, then counted.
    func testThreeMistakesInThreeRulesAreThreeLocatedErrorsInOneRun() throws {
        let result = try checkBrokenFile(
            """
            rules:
              - {id: heavy-weight, summary: x, when: '"isolation" in signs', weight: heavy, evidence: e, domain: suicide}
              - {id: typo-measure, summary: y, when: measure.cravng >= 7, weight: 5, evidence: e, domain: suicide}
              - {id: no-evidence, summary: z, when: '"hopelessness" in signs', weight: 5, domain: suicide}
            """,
            [
                "broken.yaml:2:74: rule 'heavy-weight': weight must be a number from -100 to 100",
                "broken.yaml:3:42: unknown measure 'cravng' (vocabulary.yaml: measures); did you mean craving?",
                "broken.yaml:4:5: rule is missing 'evidence'",
                "/rules: 3 errors",
            ])
        XCTAssertEqual(located(result), 3, result.stderr)
        XCTAssertTrue(
            result.stderr.contains(
                "    - {id: typo-measure, summary: y, when: measure.cravng >= 7, weight: 5, evidence: e, domain: suicide}\n"
                    + String(repeating: " ", count: 43) + "^"), result.stderr)
    }

    /// One rule with several mistakes, in its keys and in its condition: each is reported.
    func testEveryMistakeOfOneRuleIsReported() throws {
        let result = try checkBrokenFile(
            """
            rules:
              - id: Many-Mistakes
                summary: x
                when: measure.cravng < 3 and "isolaton" in signs
                weight: 500
                half_life: soon
                evidence: e
                domain: suicide
            """,
            [
                "broken.yaml:2:9: rule id 'Many-Mistakes' must be kebab-case",
                "broken.yaml:4:11: unknown measure 'cravng' (vocabulary.yaml: measures); did you mean craving?",
                "broken.yaml:4:34: unknown code 'isolaton' in signs (vocabulary.yaml); did you mean isolation?",
                "broken.yaml:5:13: rule 'Many-Mistakes': weight must be a number from -100 to 100",
                "broken.yaml:6:16: rule 'Many-Mistakes': half_life must be a duration",
                "/rules: 5 errors",
            ])
        XCTAssertEqual(located(result), 5, result.stderr)
    }

    /// `vigil rules check` on a copy of the shipped pack with `yaml` added as `broken.yaml`: it fails
    /// and reports each of `expected`.
    func checkBrokenFile(_ yaml: String, _ expected: [String]) throws -> Harness.Result {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        try yaml.write(toFile: rules + "/broken.yaml", atomically: true, encoding: .utf8)
        return try checkReports(rules, harness, expected)
    }

    /// A mistake in vocabulary.yaml does not hide those of the rule files.
    func testVocabularyAndRuleFileMistakesAreReportedTogether() throws {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        let vocabulary = try String(contentsOfFile: rules + "/vocabulary.yaml", encoding: .utf8)
        let declaration = "mood: {min: 0, max: 10, unit: score}"
        XCTAssertTrue(vocabulary.contains(declaration))
        try vocabulary.replacingOccurrences(of: declaration, with: "mood: {min: 0, max: 10}")
            .write(toFile: rules + "/vocabulary.yaml", atomically: true, encoding: .utf8)
        try """
        rules:
          - id: no-weight
            summary: x
            when: "true"
            evidence: e
        """.write(toFile: rules + "/broken.yaml", atomically: true, encoding: .utf8)
        try checkReports(
            rules, harness,
            [
                "vocabulary.yaml:", "key 'measures.mood.unit': required", "broken.yaml:2:5: rule is missing 'weight'",
                "\(rules): 2 errors",
            ])
    }

    /// How many `FILE:LINE:COL:` errors `result` printed.
    func located(_ result: Harness.Result) -> Int {
        result.stderr.split(separator: "\n").filter {
            $0.range(of: #"^vigil: /.*\.yaml:\d+:\d+: "#, options: .regularExpression) != nil
        }
        .count
    }

    /// `vigil rules check DIR` fails and reports each of `expected` (checked in full on stderr).
    @discardableResult
    func checkReports(_ rules: String, _ harness: Harness, _ expected: [String]) throws -> Harness.Result {
        let result = try harness.run(["rules", "check", rules])
        XCTAssertEqual(result.status, 1, "\(result)")
        for message in expected {
            XCTAssertTrue(result.stderr.contains(message), "missing '\(message)' in:\n\(result.stderr)")
        }
        return result
    }

    func testAMissingPolicyIsAnError() throws {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        try FileManager.default.removeItem(atPath: rules + "/policy.yaml")
        let result = try harness.run(["rules", "check", rules])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("policy.yaml: missing"), result.stderr)
    }
}
