import Foundation
import VigilShell
import XCTest

/// What a newcomer meets first, through the real binary: the version, the usage of a mistyped
/// command, a missing configuration, the queue's default view and the README's quick start.
final class CommandLineTests: XCTestCase {
    func testVersionPrintsTheOneVersionString() throws {
        let harness = try Harness()
        let result = try harness.run(["--version"], config: false)
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertEqual(result.stdout, VigilVersion.current + "\n")
    }

    func testABadOptionPrintsThatSubcommandsUsage() throws {
        let harness = try Harness()
        for (arguments, usage) in [
            (["queue", "list", "--bogus"], "Usage: vigil queue list"), (["status", "--jsn"], "Usage: vigil status"),
            (["bench", "ingest", "--files", "x"], "Usage: vigil bench ingest"),
            (["queue", "list", "--state", "bogus"], "Usage: vigil queue list"),
        ] {
            let result = try harness.run(arguments, config: false)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result)")
            XCTAssertTrue(result.stderr.contains(usage), "\(arguments) prints \(usage): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(arguments[0]), result.stderr)
        }
    }

    func testAMissingConfigurationFileIsNamedInPlainWords() throws {
        let harness = try Harness()
        let path = harness.root + "/etc/vigil.yaml"
        for command in [["status"], ["serve", "--log", "stderr"], ["notify", "--log", "stderr"], ["queue", "list"]] {
            let result = try harness.run(command + ["--config", path], config: false)
            XCTAssertEqual(result.status, 78, "\(command): \(result)")
            XCTAssertEqual(
                result.stderr, "vigil: no configuration file at \(path) (create it, or pass --config PATH)\n")
        }
    }

    func testQueueListShowsWhatNeedsSomeoneAndAllShowsTheHistory() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try harness.drop(
            "s1.json", ResponsePlanTests.highScreening(id: "s1", client: "c-q", at: ResponsePlanTests.time(-60)))
        try eventually("the plan enqueued") { try harness.tasks().count == ResponsePlanTests.highPlanSize }
        let ids = try harness.tasks().compactMap { $0["id"] as? String }
        XCTAssertEqual(try harness.run(["queue", "ack", ids[0], "--by", "ops.lead", "--wait", "20"]).status, 0)
        XCTAssertEqual(daemon.stop(), 0)
        XCTAssertEqual(try harness.run(["queue", "cancel", ids[1], "--reason", "moved away"]).status, 0)
        func listed(_ arguments: [String]) throws -> [String] {
            let result = try harness.run(["queue", "list", "--json"] + arguments)
            XCTAssertEqual(result.status, 0, "\(result)")
            let tasks = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
            return (tasks ?? []).compactMap { $0["id"] as? String }
        }
        XCTAssertEqual(try listed([]), Array(ids.dropFirst(2)), "resolved and cancelled tasks are history")
        XCTAssertEqual(try listed(["--all"]), ids)
        XCTAssertEqual(try listed(["--state", "cancelled"]), [ids[1]])
        let text = try harness.run(["queue", "list"])
        XCTAssertFalse(text.stdout.contains(ids[0]), text.stdout)
        XCTAssertTrue(text.stdout.contains(ids[2]), text.stdout)
    }

    /// The quick start's check-in, run as the README writes it, still shows on the client today.
    func testTheReadmesQuickStartCheckInShowsOnTheClient() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let readme = try String(contentsOfFile: Harness.repository + "/README.md", encoding: .utf8)
        let start = try XCTUnwrap(readme.range(of: "drop a check-in:\n\n```sh\n"), "the quick start's snippet")
        let end = try XCTUnwrap(
            readme.range(of: ".build/debug/vigil submit -\n", range: start.upperBound..<readme.endIndex))
        let snippet =
            readme[start.upperBound..<end.lowerBound] + "'\(Harness.binary)' submit --config '\(harness.configPath)' -"
        let (status, output) = try runCommand(["sh", "-c", String(snippet)])
        XCTAssertEqual(status, 0, output)
        try eventually("the check-in stored") { try harness.count("events") == 1 }
        let shown = try harness.run(["client", "show", "c-0042", "--json"])
        XCTAssertEqual(shown.status, 0, "\(shown)")
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        let firings = (report["firings"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
        XCTAssertTrue(firings.contains("isolation"), "the sign it reports is active now: \(shown.stdout)")
        XCTAssertGreaterThan(report["score"] as? Double ?? 0, 0)
        // Dated when it is run, not on a fixed day that ages out of every window.
        let events = report["events"] as? [[String: Any]] ?? []
        let at = try XCTUnwrap(ResponsePlanTests.date(events.first?["at"]), shown.stdout)
        XCTAssertLessThan(abs(at.timeIntervalSinceNow), 600, "the check-in is dated now: \(at)")
    }
}
