import Foundation
import XCTest

/// `vigil rules test`: the shipped pack's tests pass and cover every rule; failures show got and want.
final class RulesTestCommandTests: XCTestCase {
    var rules: String { Harness.repository + "/Rules" }

    func testTheShippedRuleTestsPassAndCoverEveryRule() throws {
        let harness = try Harness()
        let files = try FileManager.default.contentsOfDirectory(atPath: rules + "/tests").filter {
            $0.hasSuffix(".yaml")
        }
        .sorted().map { rules + "/tests/" + $0 }
        XCTAssertGreaterThanOrEqual(files.count, 3)
        let result = try harness.run(["rules", "test", "--rules", rules] + files)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains(": 0 failed"), result.stdout)
        XCTAssertFalse(
            result.stdout.contains("uncovered"), "every rule has a test that expects it to fire: \(result.stdout)")
        // The directory runs the same files; a missing file is named in plain words.
        let directory = try harness.run(["rules", "test", "--rules", rules, rules + "/tests"])
        XCTAssertEqual(directory.status, 0, "\(directory)")
        XCTAssertEqual(directory.stdout, result.stdout)
        let missing = try harness.run(["rules", "test", "--rules", rules, harness.root + "/missing.yaml"])
        XCTAssertEqual(missing.status, 1, "\(missing)")
        XCTAssertTrue(missing.stderr.contains(harness.root + "/missing.yaml: no such file"), missing.stderr)
        try FileManager.default.createDirectory(atPath: harness.root + "/empty", withIntermediateDirectories: true)
        let empty = try harness.run(["rules", "test", "--rules", rules, harness.root + "/empty/"])
        XCTAssertEqual(empty.status, 1, "\(empty)")
        XCTAssertTrue(empty.stderr.contains("a directory without .yaml test files"), empty.stderr)
    }

    func testAFailingExpectationShowsGotAndWant() throws {
        let harness = try Harness()
        let file = harness.root + "/wrong.yaml"
        try """
        tests:
          - name: isolation alone is not imminent
            events:
              - {at: +0h, kind: checkin, source: peer, signs: [isolation]}
            expect:
              - at: +1h
                fired: [isolation]
                not_fired: [hopelessness]
                tier: imminent
                score: [50, 60]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try harness.run(["rules", "test", "--rules", rules, file])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(result.stdout.contains("at +1h: tier: got low, want imminent"), result.stdout)
        XCTAssertTrue(result.stdout.contains("at +1h: score: got 7."), result.stdout)
        XCTAssertTrue(result.stdout.contains("1 tests, 1 expectations in 1 files: 2 failed"), result.stdout)
        XCTAssertTrue(result.stdout.contains("uncovered rules"), "coverage is reported: \(result.stdout)")
    }

    func testAnInvalidEventInATestIsALocatedError() throws {
        let harness = try Harness()
        let file = harness.root + "/bad.yaml"
        try """
        tests:
          - name: bad
            events:
              - {at: +0h, kind: checkin, source: peer, signs: [isolaton]}
            expect: []
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try harness.run(["rules", "test", "--rules", rules, file])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(result.stderr.contains("bad.yaml:4:"), result.stderr)
        XCTAssertTrue(result.stderr.contains("did you mean isolation?"), result.stderr)
    }

    /// Every mistake of a test file is reported at once, each at its line with its key path.
    func testEveryMistakeOfATestFileIsReportedWithItsLineAndKey() throws {
        let harness = try Harness()
        let file = harness.root + "/bad.yaml"
        try """
        tests:
          - name: several mistakes
            evnts: []
            expect:
              - at: +1h
                fired: [no-such-rule]
                tier: severe
                score: high
                colour: red
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try harness.run(["rules", "test", "--rules", rules, file])
        XCTAssertEqual(result.status, 1, "\(result)")
        for expected in [
            "bad.yaml:3:5: key 'tests[0].evnts': unknown key (known keys: name, client, events, expect)",
            "bad.yaml:6:16: key 'tests[0].expect[0].fired': test 'several mistakes': no rule 'no-such-rule' in the pack",
            "bad.yaml:7:15: key 'tests[0].expect[0].tier': tier must be low, moderate, high or imminent",
            "bad.yaml:8:16: key 'tests[0].expect[0].score': score must be [MIN, MAX]",
            "bad.yaml:9:9: key 'tests[0].expect[0].colour': unknown key (known keys: at, fired, not_fired, score, tier, domains, tasks, no_tasks, superseded, ended)",
        ] {
            XCTAssertTrue(result.stderr.contains(expected), "missing \(expected) in:\n\(result.stderr)")
        }
        XCTAssertTrue(
            result.stdout.contains("0 tests, 0 expectations in 1 files: 0 failed, 1 files not run (above: why)"),
            result.stdout)
    }

    /// The plans' action tests fail when a plan is changed to stack: an imminent escalation an hour
    /// after the rise is another job than the high plan's, so that escalation would stay open beside it.
    func testThePlanTestsFailWhenAPlanStacks() throws {
        let harness = try Harness()
        let copy = try harness.useCopyOfRules()
        let policy = copy + "/policy.yaml"
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        let stacking = text.replacingOccurrences(
            of: "      - kind: escalation\n        due: now\n        route: crisis_clinician",
            with: "      - kind: escalation\n        due: at 1h\n        route: crisis_clinician")
        XCTAssertNotEqual(stacking, text, "the suicide plan's imminent escalation is in policy.yaml as expected")
        try stacking.write(toFile: policy, atomically: true, encoding: .utf8)
        let passing = try harness.run(["rules", "test", "--rules", rules, rules + "/tests/plans.yaml"])
        XCTAssertEqual(passing.status, 0, "the shipped plans pass: \(passing)")
        let result = try harness.run(["rules", "test", "--rules", copy, rules + "/tests/plans.yaml"])
        XCTAssertEqual(result.status, 1, "\(result)")
        XCTAssertTrue(
            result.stdout.contains(
                "at +2h: superseded: got [follow_up counselor high; follow_up counselor high], want"),
            result.stdout)
        XCTAssertTrue(result.stdout.contains("tasks: got [escalation crisis_clinician 1h;"), result.stdout)
    }

    /// Malformed action expectations are located like every other mistake.
    func testMalformedActionExpectationsAreLocated() throws {
        let harness = try Harness()
        let file = harness.root + "/actions.yaml"
        try """
        tests:
          - name: actions
            events:
              - {at: +0h, kind: checkin, source: peer, signs: [isolation]}
            expect:
              - at: +0h
                tasks:
                  - {kind: page, route: outreach, due: 24h}
                  - {kind: follow_up, route: outreach, due: soon}
                no_tasks: false
                superseded:
                  - {kind: escalation, route: crisis-team, tier: severe}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try harness.run(["rules", "test", "--rules", rules, file])
        XCTAssertEqual(result.status, 1, "\(result)")
        for expected in [
            "actions.yaml:8:20: key 'tests[0].expect[0].tasks[0].kind': must be one of escalation, caring_contact",
            "actions.yaml:9:53: key 'tests[0].expect[0].tasks[1].due': must be now or a span such as 24h",
            "key 'tests[0].expect[0].no_tasks': must be true (leave it out to check nothing)",
            "key 'tests[0].expect[0].superseded[0].tier': must be low, moderate, high or imminent",
        ] {
            XCTAssertTrue(result.stderr.contains(expected), "missing \(expected) in:\n\(result.stderr)")
        }
    }
}
