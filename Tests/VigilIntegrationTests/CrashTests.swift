import Foundation
import Glibc
import XCTest

/// kill -9 in the middle of ingestion loses nothing and stores nothing twice.
final class CrashTests: XCTestCase {
    func testKillDashNineMidBatchThenRestartStoresEveryEventExactlyOnce() throws {
        let harness = try Harness()
        var expected = Set<String>()
        // Two large batches (one with lines lacking ids, identified by their bytes' SHA-256) and many single files.
        var lines: [String] = []
        for index in 0..<20_000 {
            lines.append(
                checkIn(id: "batch-\(index)", client: "c-\(index % 97)", extra: #","measures":{"mood":\#(index % 11)}"#)
            )
            expected.insert("batch-\(index)")
        }
        try harness.drop("big-1.jsonl", lines[..<10_000].joined(separator: "\n"))
        try harness.drop("big-2.jsonl", lines[10_000...].joined(separator: "\n"))
        var anonymous: [String] = []
        for index in 0..<2_000 {
            anonymous.append(
                checkIn(
                    client: "anon-\(index % 13)", at: "2026-01-0\(1 + index % 9)T10:\(10 + index % 50):00Z",
                    extra: #","measures":{"craving":\#(index % 10)}"#))
        }
        let uniqueAnonymous = Set(anonymous).count
        try harness.drop("anon.jsonl", anonymous.joined(separator: "\n"))
        for index in 0..<3_000 {
            try harness.drop(
                String(format: "single-%05d.json", index), checkIn(id: "single-\(index)", client: "s-\(index % 31)"))
            expected.insert("single-\(index)")
        }
        let total = expected.count + uniqueAnonymous

        // Crash at several instants after start: some land before, some inside, some after a commit.
        var crashesWithWorkLeft = 0
        var progress: [Int] = []
        for delay: useconds_t in [150_000, 400_000, 700_000, 1_000_000, 1_500_000] {
            let daemon = try harness.startDaemon(arguments: ["--log-level", "info"])
            usleep(delay)
            daemon.crash()
            let stored = (try? harness.count("events")) ?? 0
            XCTAssertLessThanOrEqual(stored, total)
            progress.append(stored)
            if !harness.names(in: harness.new).isEmpty { crashesWithWorkLeft += 1 }
        }
        XCTAssertGreaterThan(
            crashesWithWorkLeft, 0, "at least one kill -9 landed with work in hand (stored after each: \(progress))")
        let daemon = try harness.startDaemon(arguments: ["--log-level", "info"])
        try eventually(timeout: 300, "the spool drained") { harness.names(in: harness.new).isEmpty }
        XCTAssertEqual(daemon.stop(), 0)

        let status = try harness.status()
        XCTAssertEqual(status["events"] as? Int, total, "every event stored exactly once")
        let whys = harness.names(in: harness.rejected).filter { $0.hasSuffix(".why") }.prefix(3)
            .map { (try? String(contentsOfFile: harness.rejected + "/" + $0, encoding: .utf8)) ?? "" }
        XCTAssertEqual(
            status["rejected"] as? Int, 0, "a replay after a crash is a duplicate, never a rejection: \(whys)")
        XCTAssertEqual(harness.names(in: harness.rejected), [])
        let ids = try harness.query("select id from events")
        XCTAssertEqual(ids.count, total)
        XCTAssertTrue(expected.isSubset(of: Set(ids)), "every submitted id is in the store")
        XCTAssertEqual(
            try harness.query("select count(*) from evaluations"), ["\(total)"],
            "one rule evaluation per stored event, committed with it")
    }
}
