import Foundation
import Glibc
import XCTest

/// Bad configuration exits 78 naming the key; unsafe directories are refused.
final class ConfigTests: XCTestCase {
    func testUnknownKeyIsNamed() throws {
        let harness = try Harness(extraConfig: "spoool: typo\n")
        let result = try harness.run(["serve", "--log", "stderr"])
        XCTAssertEqual(result.status, 78, "\(result)")
        XCTAssertTrue(result.stderr.contains("key 'spoool'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("vigil.yaml:4"), "the line is named: \(result.stderr)")
    }

    func testMissingKeyAndMissingFile() throws {
        let harness = try Harness()
        try "state: s\nrules: r\n".write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        let missingKey = try harness.run(["status"])
        XCTAssertEqual(missingKey.status, 78)
        XCTAssertTrue(missingKey.stderr.contains("key 'spool': required"), missingKey.stderr)
        let missingFile = try harness.run(["status", "--config", harness.root + "/nope.yaml"], config: false)
        XCTAssertEqual(missingFile.status, 78)
        XCTAssertTrue(missingFile.stderr.contains("nope.yaml"), missingFile.stderr)
    }

    func testBrokenVocabularyIsRefusedAtStart() throws {
        let harness = try Harness()
        let rules = harness.root + "/rules"
        try FileManager.default.createDirectory(atPath: rules, withIntermediateDirectories: true)
        try "signs: [Isolation]\n".write(toFile: rules + "/vocabulary.yaml", atomically: true, encoding: .utf8)
        try "spool: spool\nstate: state\nrules: rules\n".write(
            toFile: harness.configPath, atomically: true, encoding: .utf8)
        let result = try harness.run(["serve", "--log", "stderr"])
        XCTAssertEqual(result.status, 78, "\(result)")
        XCTAssertTrue(result.stderr.contains("key 'signs'"), result.stderr)
    }

    func testWorldWritableSpoolIsRefused() throws {
        let harness = try Harness()
        XCTAssertEqual(chmod(harness.new, 0o777), 0)
        let result = try harness.run(["serve", "--log", "stderr"])
        XCTAssertEqual(result.status, 77, "\(result)")
        XCTAssertTrue(result.stderr.contains("world-writable"), result.stderr)
    }

    func testStateAndDatabaseAreNotReadableByOthers() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try harness.drop("a.json", checkIn(id: "a"))
        try eventually { try harness.count("events") == 1 }
        XCTAssertEqual(daemon.stop(), 0)
        var info = stat()
        XCTAssertEqual(stat(harness.state, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700)
        XCTAssertEqual(stat(harness.state + "/vigil.sqlite", &info), 0)
        XCTAssertEqual(info.st_mode & 0o077, 0, "the database is private to its owner")
    }

    func testStatusWithoutAStoreSaysSo() throws {
        let harness = try Harness()
        let result = try harness.run(["status"])
        XCTAssertEqual(result.status, 69)
        XCTAssertTrue(result.stderr.contains("no store here"), result.stderr)
    }
}
