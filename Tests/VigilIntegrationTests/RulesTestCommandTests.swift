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
}
