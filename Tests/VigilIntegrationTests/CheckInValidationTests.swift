import Foundation
import XCTest

/// Check-in validation through the real binary: every problem of a check-in at once (in `submit`'s
/// output and in the `.why` of a rejected spool file), the C-SSRS screener's logic, declared measures.
final class CheckInValidationTests: XCTestCase {
    /// A check-in with four problems in four fields, and a private note that no error may quote.
    static let manyProblems = checkIn(
        id: "many", kind: "screening",
        extra: #","measures":{"mood":12,"cravng":4},"signs":["isolaton"],"#
            + #""screening":{"wish_dead":true,"suicidal_thoughts":false,"intent":true,"behavior_past_3_months":false},"#
            + #""note":"private words""#)
    static let manyFields = ["measures.mood", "measures.cravng", "signs[0]", "screening.intent"]

    func testSubmitListsEveryProblemOfACheckIn() throws {
        let harness = try Harness()
        let result = try harness.run(["submit", "-"], stdin: Self.manyProblems)
        XCTAssertEqual(result.status, 65, "\(result)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, Self.manyFields.count, result.stderr)
        for (line, field) in zip(lines, Self.manyFields) {
            XCTAssertTrue(line.hasPrefix("vigil: stdin: \(field): "), "\(line) should name \(field)")
        }
        XCTAssertTrue(lines[0].contains("12.0 is out of range 0–10 (score)"), result.stderr)
        XCTAssertTrue(
            lines[1].contains("unknown measure cravng (not declared in vocabulary.yaml); did you mean craving?"),
            result.stderr)
        XCTAssertTrue(lines[2].contains("unknown code isolaton; did you mean isolation?"), result.stderr)
        XCTAssertFalse(result.stderr.contains("private"), "the note never appears in an error")
        XCTAssertEqual(harness.names(in: harness.new), [], "nothing written")
    }

    func testTheWhyOfARejectedFileAndOfARejectedLineListsEveryProblem() throws {
        let harness = try Harness()
        try harness.drop("many.json", Self.manyProblems)
        try harness.drop("batch.jsonl", checkIn(id: "good") + "\n" + Self.manyProblems + "\n")
        let daemon = try harness.startDaemon()
        try eventually("both files handled") { harness.names(in: harness.new).isEmpty }
        XCTAssertEqual(try harness.count("events"), 1, "the good line is stored")
        XCTAssertEqual(daemon.stop(), 0)
        for name in ["many.json", "batch.jsonl"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: harness.rejected + "/" + name + ".why"))
            let why = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let errors = why?["errors"] as? [[String: Any]] ?? []
            XCTAssertEqual(errors.map { $0["field"] as? String }, Self.manyFields, name)
            XCTAssertEqual(
                errors.map { $0["line"] as? Int }, Array(repeating: name == "batch.jsonl" ? 2 : nil, count: 4), name)
            XCTAssertFalse(
                String(decoding: data, as: UTF8.self).contains("private"), "the note never appears in a .why")
        }
        XCTAssertFalse(daemon.log.contains("private"), "nor in the log")
    }

    /// The C-SSRS screener asks questions 3–5 only after a yes to question 2.
    func testAScreeningTheScreenerCannotProduceIsRefusedNamingTheAnswer() throws {
        let harness = try Harness()
        func screening(thoughts: Bool) -> String {
            checkIn(
                kind: "screening",
                extra:
                    #","screening":{"wish_dead":true,"suicidal_thoughts":\#(thoughts),"intent":true,"behavior_past_3_months":false}"#
            )
        }
        let refused = try harness.run(["submit", "-"], stdin: screening(thoughts: false))
        XCTAssertEqual(refused.status, 65, "\(refused)")
        XCTAssertEqual(
            refused.stderr,
            "vigil: stdin: screening.intent: answered yes, but suicidal_thoughts is no: the C-SSRS screener asks questions 3–5 "
                + "(method, intent, plan) only after a yes to question 2\n")
        let accepted = try harness.run(["submit", "-"], stdin: screening(thoughts: true))
        XCTAssertEqual(accepted.status, 0, "\(accepted)")
    }

    /// Measures are those vocabulary.yaml declares, within the range it gives.
    func testAnUndeclaredMeasureIsRefusedUntilItIsDeclared() throws {
        let harness = try Harness()
        let energy = { (value: Int) in checkIn(extra: #","measures":{"energy":\#(value)}"#) }
        let undeclared = try harness.run(["submit", "-"], stdin: energy(5))
        XCTAssertEqual(undeclared.status, 65, "\(undeclared)")
        XCTAssertEqual(
            undeclared.stderr,
            "vigil: stdin: measures.energy: unknown measure energy (not declared in vocabulary.yaml)\n")
        let rules = try harness.useCopyOfRules()
        let vocabulary = try String(contentsOfFile: rules + "/vocabulary.yaml", encoding: .utf8)
        try vocabulary.replacingOccurrences(
            of: "measures:\n", with: "measures:\n  energy: {min: 0, max: 10, unit: score}\n"
        )
        .write(toFile: rules + "/vocabulary.yaml", atomically: true, encoding: .utf8)
        XCTAssertEqual(try harness.run(["submit", "-"], stdin: energy(5)).status, 0)
        let outOfRange = try harness.run(["submit", "-"], stdin: energy(11))
        XCTAssertEqual(outOfRange.stderr, "vigil: stdin: measures.energy: 11.0 is out of range 0–10 (score)\n")
    }
}
