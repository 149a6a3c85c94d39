import Foundation
import XCTest

/// The free-text note is stored, and appears nowhere else: not in logs, stderr, `.why` files or status.
final class PrivacyTests: XCTestCase {
    func testTheNoteNeverLeavesTheStore() throws {
        let secret = "NOTE-SECRET-relapsed-at-his-brothers"
        let note = ",\"note\":\"\(secret)\""
        let harness = try Harness()
        let daemon = try harness.startDaemon()  // debug level: the most talkative setting
        var outputs: [String] = []
        for text in [
            checkIn(id: "p1", extra: note),
            checkIn(id: "p2", extra: note + ",\"measures\":{\"mood\":42}"),
            checkIn(id: "p3", extra: note + ",\"signs\":[\"isolaton\"]"),
        ] {
            let result = try harness.run(["submit", "-"], stdin: text)
            outputs += [result.stdout, result.stderr]
        }
        try harness.drop("p2.json", checkIn(id: "p2", extra: note + ",\"measures\":{\"mood\":42}"))
        try harness.drop("conflict.json", checkIn(id: "p1", extra: note + ",\"measures\":{\"mood\":1}"))
        try harness.drop(
            "batch.jsonl",
            checkIn(id: "p4", extra: note) + "\n" + checkIn(id: "p5", client: "bad id", extra: note) + "\n")
        try eventually { try harness.names(in: harness.new).isEmpty && harness.count("events") == 2 }
        let status = try harness.run(["status"])
        XCTAssertEqual(daemon.stop(), 0)
        outputs += [status.stdout, status.stderr, daemon.log]
        for name in harness.names(in: harness.rejected) where name.hasSuffix(".why") {
            outputs.append(try String(contentsOfFile: harness.rejected + "/" + name, encoding: .utf8))
        }
        XCTAssertGreaterThanOrEqual(outputs.count, 10)
        for output in outputs {
            XCTAssertFalse(output.contains(secret), "the note leaked: \(output)")
            XCTAssertFalse(output.contains("bad id"), "a malformed client id leaked: \(output)")
        }
        XCTAssertTrue(daemon.log.contains("check-in stored"), "the debug log was on")
    }
}
