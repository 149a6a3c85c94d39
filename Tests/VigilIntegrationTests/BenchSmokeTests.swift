import Foundation
import XCTest

/// The benchmarks run end to end on tiny sizes and print their figures next to their floors.
/// (No timing is asserted: these machines are shared and noisy.)
final class BenchSmokeTests: XCTestCase {
    func testBenchIngestPrintsBothFiguresAndTheRatio() throws {
        let harness = try Harness()
        let result = try harness.run([
            "bench", "ingest", "--files", "50", "--batches", "2", "--batch-size", "100", "--rounds", "1", "--dir",
            harness.root + "/bench",
        ])
        XCTAssertEqual(result.status, 0, "\(result)")
        for line in [
            "(a) one check-in per .json file", "check-ins/s", "files/s", "x the floor", "(b) .jsonl batches of 100",
            "x the copy", "(c) .jsonl batches of 100",
        ] {
            XCTAssertTrue(result.stdout.contains(line), "missing '\(line)': \(result.stdout)")
        }
        XCTAssertEqual(harness.names(in: harness.root + "/bench"), [], "the benchmark cleans up after itself")
    }

    /// `--store postgres`: `bench ingest` also ingests (b) and (c) into scratch databases on the
    /// configured server and prints each beside SQLite's figure; `bench e2e --nodes 2` runs the same
    /// load on two nodes sharing a scratch database after the SQLite node, every escalation
    /// delivered; both drop their databases afterwards.
    func testBenchesOnPostgresPrintBesideSQLite() throws {
        let harness = try Harness()
        let postgres = try PostgresServer(passwordFileIn: harness.root)
        defer { postgres.stop() }
        try
            "spool: spool\nstate: state\nrules: \(Harness.repository)/Rules\nstore: {backend: postgres, url: \"\(postgres.url)\", password_file: \(postgres.passwordFile)}\n"
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        let result = try harness.run([
            "bench", "ingest", "--files", "20", "--batches", "2", "--batch-size", "50", "--rounds", "1", "--dense", "0",
            "--store", "postgres", "--dir", harness.root + "/bench",
        ])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdout.components(separatedBy: "    postgres ").count - 1, 2, result.stdout)
        XCTAssertTrue(result.stdout.contains("x SQLite's"), result.stdout)
        let e2e = try harness.run([
            "bench", "e2e", "--rate", "40", "--seconds", "2", "--store", "postgres", "--nodes", "2", "--dir",
            harness.root + "/bench-e2e",
        ])
        XCTAssertEqual(e2e.status, 0, "\(e2e)")
        XCTAssertTrue(e2e.stdout.contains("the same on 2 nodes"), e2e.stdout)
        XCTAssertEqual(
            e2e.stdout.components(separatedBy: "(8 of 8 escalations delivered").count - 1, 2,
            "every escalation delivered, on SQLite and on the cluster: \(e2e.stdout)")
        XCTAssertEqual(harness.names(in: harness.root + "/bench-e2e"), [], "the benchmark cleans up after itself")
        XCTAssertEqual(
            try postgres.value("SELECT count(*) FROM pg_database WHERE datname LIKE 'vigil_bench_%'"), "0",
            "the scratch databases dropped")
    }

    /// Also proves the engine and the hand-written reference agree on every event of the population.
    func testBenchRulesAgreesWithTheHandWrittenReference() throws {
        let harness = try Harness()
        let result = try harness.run(["bench", "rules", "--clients", "40", "--events", "300"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("identical in both"), result.stdout)
        XCTAssertTrue(result.stdout.contains("x the hand-written floor"), result.stdout)
        XCTAssertTrue(result.stdout.contains("after a history of 100000"), result.stdout)
    }

    func testEndToEndBenchDeliversEveryEscalation() throws {
        let harness = try Harness()
        let result = try harness.run([
            "bench", "e2e", "--rate", "50", "--seconds", "2", "--dir", harness.root + "/bench-e2e",
        ])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("(100 submitted, 100 stored)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("10 of 10 escalations delivered"), result.stdout)
        XCTAssertTrue(result.stdout.contains("p99") && result.stdout.contains("floor"), result.stdout)
        XCTAssertEqual(harness.names(in: harness.root + "/bench-e2e"), [], "the benchmark cleans up after itself")
    }
}
