import Foundation
import Glibc
import XCTest

/// `--log journal` writes native journal entries (sd_journal_sendv): PRIORITY, stable MESSAGE_IDs and
/// VIGIL_ fields, and never the note. journald is replaced by a receiver bound to its socket inside a
/// private mount namespace (a tmpfs over /run), so the host's /run is never touched.
final class JournalTests: XCTestCase {
    static let secret = "NOTE-SECRET-she-has-a-plan"

    func testJournalEntriesCarryPriorityMessageIDAndFieldsButNeverTheNote() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), getuid() == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: needs root and unshare(1) for a private /run; journal output NOT verified")
        }
        let harness = try Harness()
        let entries = harness.root + "/journal.jsonl"
        let pidFile = harness.root + "/vigil.pid"
        let receiver = Harness.repository + "/Tests/VigilIntegrationTests/Support/journal_receiver.py"
        let script = """
            set -e
            mount -t tmpfs -o mode=0755 tmpfs /run
            mkdir -p /run/systemd/journal
            python3 \(receiver) /run/systemd/journal/socket \(entries) &
            receiver=$!
            trap 'kill $receiver' EXIT
            while [ ! -e \(entries).ready ]; do sleep 0.02; done
            \(Harness.binary) serve --config \(harness.configPath) --log journal --log-level debug &
            echo $! > \(pidFile)
            wait $!
            """
        let namespace = Process()
        namespace.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        namespace.arguments = ["--mount", "--propagation", "private", "--fork", "/bin/sh", "-c", script]
        let errorsPath = harness.root + "/namespace.err"
        XCTAssertTrue(FileManager.default.createFile(atPath: errorsPath, contents: nil))
        namespace.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorsPath))
        try namespace.run()
        defer { if namespace.isRunning { namespace.terminate() } }

        try eventually("the daemon started in the namespace") {
            if !namespace.isRunning {
                throw HarnessError(
                    "unshare failed: \((try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? "")")
            }
            return FileManager.default.fileExists(atPath: pidFile)
                && journal(entries).contains { $0["MESSAGE_ID"] == "ffedb8cb4cd84851a9d1cdf58781d764" }
        }
        try harness.drop("good.json", checkIn(id: "good", extra: ",\"note\":\"\(Self.secret)\""))
        try harness.drop(
            "bad.json", checkIn(id: "bad", extra: ",\"note\":\"\(Self.secret)\",\"measures\":{\"mood\":99}"))
        try eventually("the rejection logged") {
            journal(entries).contains { $0["MESSAGE_ID"] == "0716781b88164d44a95444497791e0a2" }
        }
        let pid =
            pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
            ?? 0
        XCTAssertGreaterThan(pid, 0)
        kill(pid, SIGTERM)
        try eventually("the stop logged") {
            journal(entries).contains { $0["MESSAGE_ID"] == "0ea8bfa33d9b4e039c94364775918fb0" }
        }
        namespace.waitUntilExit()

        let all = journal(entries)
        for entry in all {
            XCTAssertEqual(entry["SYSLOG_IDENTIFIER"], "vigil")
            XCTAssertNotNil(entry["PRIORITY"])
            XCTAssertNotNil(entry["MESSAGE_ID"], "every entry has a stable MESSAGE_ID: \(entry)")
            XCTAssertNotNil(entry["CODE_FILE"])
        }
        let rejected = all.first { $0["MESSAGE_ID"] == "0716781b88164d44a95444497791e0a2" } ?? [:]
        XCTAssertEqual(rejected["PRIORITY"], "4")
        XCTAssertEqual(rejected["VIGIL_FILE"], "bad.json")
        XCTAssertEqual(rejected["VIGIL_FIELD"], "measures.mood")
        let stored = all.first { $0["MESSAGE_ID"] == "75e06d7f42c14172ac0f31cfcd5be5f2" } ?? [:]
        XCTAssertEqual(stored["VIGIL_EVENT"], "good")
        XCTAssertEqual(stored["VIGIL_CLIENT"], "c-001")
        XCTAssertEqual(stored["PRIORITY"], "7")
        let text = (try? String(contentsOfFile: entries, encoding: .utf8)) ?? ""
        XCTAssertFalse(text.contains(Self.secret), "the note reached the journal")
    }

    func journal(_ path: String) -> [[String: String]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String]
        }
    }
}
