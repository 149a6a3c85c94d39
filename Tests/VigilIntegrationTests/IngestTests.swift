import Foundation
import XCTest

/// submit → spool → daemon → store, through the real binary.
final class IngestTests: XCTestCase {
    func testSubmitThenIngestCommitsTheEvent() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        var empty = ""
        try eventually("the store is open") {
            empty = try harness.run(["status", "--json"]).stdout
            return !empty.isEmpty
        }
        XCTAssertEqual(
            empty,
            #"{"backlog":0,"clients":0,"events":0,"last_ingest":null,"location":"\#(harness.state)/vigil.sqlite","nodes":null,"rejected":0,"store":"sqlite"}"#
                + "\n",
            "last_ingest and nodes are null, not left out")
        let submitted = try harness.run(
            ["submit", "-"], stdin: checkIn(id: "evt-1", extra: #","measures":{"mood":4},"signs":["isolation"]"#))
        XCTAssertEqual(submitted.status, 0, "\(submitted)")
        XCTAssertEqual(submitted.stdout, "evt-1\n")
        try eventually("the event in the store") { try harness.count("events") == 1 }
        let status = try harness.status()
        XCTAssertEqual(status["clients"] as? Int, 1)
        XCTAssertEqual(status["rejected"] as? Int, 0)
        XCTAssertEqual(status["backlog"] as? Int, 0)
        XCTAssertNotNil(status["last_ingest"] as? String)
        XCTAssertEqual(harness.names(in: harness.new), [], "the spool file is unlinked after the commit")
        XCTAssertEqual(daemon.stop(), 0)
    }

    func testSubmitWithoutIDPrintsTheSHA256OfTheBytes() throws {
        let harness = try Harness()
        let text = checkIn()
        let result = try harness.run(["submit", "-"], stdin: text)
        XCTAssertEqual(result.status, 0, "\(result)")
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "printf %s '\(text)' | sha256sum | cut -d' ' -f1"]
        let pipe = Pipe()
        shell.standardOutput = pipe
        try shell.run()
        shell.waitUntilExit()
        XCTAssertEqual(result.stdout, String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    func testSubmitRefusesInvalidInputAndWritesNothing() throws {
        let harness = try Harness()
        let result = try harness.run(["submit", "-"], stdin: checkIn(extra: #","measures":{"mood":12}"#))
        XCTAssertEqual(result.status, 65, "\(result)")
        XCTAssertTrue(result.stderr.contains("measures.mood"), result.stderr)
        XCTAssertTrue(result.stderr.contains("out of range 0–10"), result.stderr)
        let unknown = try harness.run(["submit", "-"], stdin: checkIn(extra: #","signs":["isolaton"]"#))
        XCTAssertEqual(unknown.status, 65)
        XCTAssertTrue(unknown.stderr.contains("did you mean isolation?"), unknown.stderr)
        XCTAssertEqual(harness.names(in: harness.new), [])
        XCTAssertEqual(harness.names(in: harness.spool + "/tmp"), [])
    }

    func testSubmitBatchValidatesEveryLine() throws {
        let harness = try Harness()
        let path = harness.root + "/import.jsonl"
        try [checkIn(id: "a"), checkIn(id: "b", client: "John Smith"), checkIn(id: "c", kind: "nap")]
            .joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let bad = try harness.run(["submit", path])
        XCTAssertEqual(bad.status, 65)
        XCTAssertTrue(bad.stderr.contains("line 2: client:"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("line 3: kind:"), bad.stderr)
        XCTAssertFalse(bad.stderr.contains("John Smith"), "a malformed client id may be a name: never echo it")
        try [checkIn(id: "a"), checkIn(id: "b")].joined(separator: "\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        let good = try harness.run(["submit", path])
        XCTAssertEqual(good.status, 0, "\(good)")
        XCTAssertEqual(good.stdout, "a\nb\n")
        XCTAssertEqual(harness.names(in: harness.new).count, 1)
        XCTAssertTrue(harness.names(in: harness.new)[0].hasSuffix(".jsonl"))
    }

    func testReplaysAreIdempotentAndConflictingIDsAreRejected() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try harness.drop("1.json", checkIn(id: "same"))
        try eventually { try harness.count("events") == 1 }
        try harness.drop("2.json", checkIn(id: "same"))  // identical: a replay
        try eventually { harness.names(in: harness.new).isEmpty }
        try harness.drop("3.json", checkIn(id: "same", extra: #","measures":{"mood":1}"#))  // same id, other content
        try eventually { harness.names(in: harness.rejected).contains("3.json.why") }
        XCTAssertEqual(try harness.count("events"), 1)
        XCTAssertEqual(try harness.count("rejected"), 1)
        let why = try String(contentsOfFile: harness.rejected + "/3.json.why", encoding: .utf8)
        XCTAssertTrue(why.contains("\"field\":\"id\""), why)
        XCTAssertEqual(daemon.stop(), 0)
    }

    func testBatchCommitsGoodLinesAndKeepsBadOnes() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        let lines = [
            checkIn(id: "l1"), "", checkIn(id: "l3", extra: #","measures":{"sleep_hours":25}"#), checkIn(id: "l4"),
            "{not json",
        ]
        try harness.drop("import.jsonl", lines.joined(separator: "\r\n") + "\n")
        try eventually { harness.names(in: harness.rejected) == ["import.jsonl", "import.jsonl.why"] }
        XCTAssertEqual(try harness.count("events"), 2)
        let kept = try String(contentsOfFile: harness.rejected + "/import.jsonl", encoding: .utf8)
        XCTAssertEqual(kept, lines[2] + "\n" + lines[4] + "\n", "exactly the bad lines are kept")
        let why =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: harness.rejected + "/import.jsonl.why"))) as? [String: Any]
        let errors = why?["errors"] as? [[String: Any]] ?? []
        XCTAssertEqual(errors.map { $0["line"] as? Int }, [3, 5])
        XCTAssertEqual(errors.first?["field"] as? String, "measures.sleep_hours")
        XCTAssertEqual(harness.names(in: harness.new), [])
        XCTAssertEqual(daemon.stop(), 0)
    }
}
