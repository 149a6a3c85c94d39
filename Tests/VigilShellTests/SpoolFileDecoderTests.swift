import VigilCore
import XCTest

@testable import VigilShell

/// What a refused check-in's verdict says: every problem, each a reason, and how many were left out.
final class SpoolFileDecoderTests: XCTestCase {
    let decoder = SpoolFileDecoder(
        decoder: CheckInDecoder(
            vocabulary: Vocabulary(
                signs: ["isolation"], stressors: [], protective: [],
                measures: ["mood": MeasureDeclaration(range: 0...10, unit: "score")])))
    let now = Timestamp(seconds: 1_795_426_200)  // 2026-11-23T09:30:00Z

    func checkIn(_ extra: String) -> String {
        #"{"client":"c-1","at":"2026-11-23T08:00:00Z","kind":"checkin","source":"peer"\#(extra)}"#
    }

    func testEachProblemOfAFileIsAReasonAndThoseOverTheLimitAreCounted() {
        let codes = (0..<25).map { "\"unknown_\($0)\"" }.joined(separator: ",")
        let verdict = decoder.verdict(
            for: .file(name: "a.json", bytes: Array(checkIn(#","signs":[\#(codes)]"#).utf8)), now: now)
        guard case .refused(_, _, let reasons, _) = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(reasons.count, CheckInErrors.limit + 1)
        XCTAssertEqual(reasons.first?.field, "signs[0]")
        XCTAssertEqual(reasons.last, Rejection(problem: "5 more problems not listed (the first 20 are)"))
    }

    func testEachProblemOfABatchLineIsAReasonOfThatLine() {
        let batch = checkIn("") + "\n" + checkIn(#","measures":{"mood":11,"mod":1},"signs":["isolaton"]"#) + "\n"
        let verdict = decoder.verdict(for: .file(name: "b.jsonl", bytes: Array(batch.utf8)), now: now)
        guard case .batch(_, let events, let refused) = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(refused.map(\.number), [2])
        XCTAssertEqual(
            refused.first?.reasons.map(\.description),
            [
                "line 2: measures.mood: 11.0 is out of range 0–10 (score)",
                "line 2: measures.mod: unknown measure mod (not declared in vocabulary.yaml); did you mean mood?",
                "line 2: signs[0]: unknown code isolaton; did you mean isolation?",
            ])
    }
}
