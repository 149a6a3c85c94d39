import Foundation
import Glibc
import XCTest

/// `vigil notify` against exec commands that fight back (issue 12): one that never reads a payload
/// larger than a pipe, one that leaves a grandchild in a session of its own, one that floods its
/// stderr with terminal escapes and forged log lines.
final class HostileExecTests: XCTestCase {
    func testAPayloadLargerThanAPipeToACommandThatNeverReadsItEndsAtTheTimeout() throws {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        // Every task of a plan carries the summaries of the rules that fired as its reasons, and
        // so in its payload: a 1.2 MB summary of the rule a high screening fires makes them large.
        let pack = rules + "/cssrs.yaml"
        let summary = "summary: \"C-SSRS: suicidal thoughts with a method in the past month\""
        let text = try String(contentsOfFile: pack, encoding: .utf8)
        XCTAssertTrue(text.contains(summary))
        let long = "summary: \"" + String(repeating: "a method, written out at length. ", count: 36_000) + "\""
        try text.replacingOccurrences(of: summary, with: long).write(toFile: pack, atomically: true, encoding: .utf8)
        let started = harness.root + "/started"
        try harness.configureNotifier(
            rules: rules,
            """
            channels:
              hang: {type: exec, command: [/bin/sh, -c, "echo $$ >> \(started); sleep 600"], timeout: 1s}
              sink: {type: exec, command: [/bin/sh, -c, "cat > \(harness.root)/payload-$$.json"], timeout: 20s}
            routes:
              - {match: {kind: escalation}, channel: hang}
            default_channel: sink
            retry_initial: 3s
            retry_longest: 3s
            lease: 40s
            poll_interval: 50ms
            """)
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let id = try XCTUnwrap(try NotifierTests.escalations(harness, clients: 1).first)
        let reasons = try JSONSerialization.data(withJSONObject: try Self.task(harness, id)["reasons"] ?? [])
        print("the escalation's reasons alone: \(reasons.count) bytes of its payload")
        XCTAssertGreaterThan(reasons.count, 1 << 20)

        let notifier = try harness.startNotifier()
        try eventually(timeout: 30, "the first attempt started") { Self.pids(started).count == 1 }
        let start = Date()
        let first = Self.pids(started)[0]
        try eventually(timeout: 10, "the first attempt ended") {
            try Self.task(harness, id)["state"] as? String != "claimed"
        }
        let attempt = Date().timeIntervalSince(start)
        print(String(format: "attempt to a command that never reads: ended after %.2f s (timeout 1 s)", attempt))
        XCTAssertGreaterThan(attempt, 0.5, "not ended before its timeout")
        XCTAssertLessThan(attempt, 2.5, "ended at its timeout")
        XCTAssertFalse(Self.isAlive(first), "the command was killed")
        let retried = try Self.task(harness, id)
        XCTAssertEqual(retried["state"] as? String, "pending", "to be retried")
        XCTAssertEqual(retried["attempts"] as? Int, 1)
        XCTAssertTrue(
            (retried["last_error"] as? String ?? "").contains("killed after its timeout of 1s"), "\(retried)")

        // SIGTERM while the second attempt hangs: the notifier stops by that attempt's deadline.
        try eventually(timeout: 10, "the second attempt started") { Self.pids(started).count == 2 }
        let stopping = Date()
        notifier.signal(SIGTERM)
        try eventually(timeout: 15, "the notifier stopped") { !notifier.process.isRunning }
        let stop = Date().timeIntervalSince(stopping)
        print(String(format: "SIGTERM with that delivery in flight: the notifier stopped in %.2f s", stop))
        XCTAssertLessThan(stop, 3)
        XCTAssertEqual(notifier.process.terminationStatus, 0)
        XCTAssertFalse(Self.isAlive(Self.pids(started)[1]))
        let stopped = try Self.task(harness, id)
        XCTAssertEqual(stopped["state"] as? String, "pending", "not left claimed")
        XCTAssertEqual(stopped["attempts"] as? Int, 2)

        // A task of the same plan went to a command that read its payload: its size, as sent.
        let payloads = harness.names(in: harness.root).filter { $0.hasPrefix("payload-") }
        let sizes = try payloads.map {
            try FileManager.default.attributesOfItem(atPath: harness.root + "/" + $0)[.size] as? Int ?? 0
        }
        print("payloads as delivered to a command that reads them: \(sizes) bytes")
        XCTAssertGreaterThan(sizes.max() ?? 0, 1 << 20, "a payload over 1 MiB, sixteen pipe buffers")
    }

    func testAGrandchildInASessionOfItsOwnIsKilledAtTheTimeoutToo() throws {
        let harness = try Harness()
        let child = harness.root + "/child"
        let grandchild = harness.root + "/grandchild"
        try harness.configureNotifier(
            """
            channels:
              hang: {type: exec, command: [/bin/sh, -c, "cat > /dev/null; setsid -f /bin/sh -c 'echo $$ > \(grandchild); exec sleep 600'; echo $$ > \(child); sleep 600"], timeout: 1s}
              log: {type: journal}
            routes:
              - {match: {kind: escalation}, channel: hang}
            default_channel: log
            retry_initial: 30s
            retry_longest: 30s
            poll_interval: 50ms
            """)
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let id = try XCTUnwrap(try NotifierTests.escalations(harness, clients: 1).first)
        let notifier = try harness.startNotifier()
        try eventually("the command and its grandchild started") {
            Self.pids(child).count == 1 && Self.pids(grandchild).count == 1
        }
        let start = Date()
        let pids = (Self.pids(child)[0], Self.pids(grandchild)[0])
        defer { for pid in [pids.0, pids.1] where Self.isAlive(pid) { kill(pid, SIGKILL) } }
        XCTAssertTrue(Self.isAlive(pids.0) && Self.isAlive(pids.1))
        let groups = (Self.stat(pids.0, field: 2), Self.stat(pids.1, field: 2))
        XCTAssertNotNil(groups.0)
        XCTAssertNotEqual(groups.0, groups.1, "the grandchild left the command's process group")
        try eventually(timeout: 10, "the attempt ended") { try Self.task(harness, id)["state"] as? String != "claimed" }
        try eventually(timeout: 1, "the command and its grandchild killed") {
            !Self.isAlive(pids.0) && !Self.isAlive(pids.1)
        }
        print(
            String(
                format: "command and setsid grandchild both gone %.2f s after they started (timeout 1 s)",
                Date().timeIntervalSince(start)))
        let task = try Self.task(harness, id)
        XCTAssertTrue((task["last_error"] as? String ?? "").contains("killed after its timeout"), "\(task)")
        XCTAssertEqual(notifier.stop(), 0)
    }

    func testAFloodOfForgedLogLinesOnStderrIsKeptBoundedAndEscaped() throws {
        let harness = try Harness()
        let noise = harness.root + "/noise"
        let forged = "\u{1b}[31mforged\ncritical line "
        try Data(String(repeating: forged, count: 10_000_000 / forged.utf8.count + 1).utf8)
            .write(to: URL(fileURLWithPath: noise))
        let started = harness.root + "/started"
        try harness.configureNotifier(
            """
            channels:
              noisy: {type: exec, command: [/bin/sh, -c, "cat > /dev/null; echo $$ > \(started); sleep 1; cat \(noise) >&2; exit 1"], timeout: 30s}
              log: {type: journal}
            routes:
              - {match: {kind: escalation}, channel: noisy}
            default_channel: log
            fallback_channel: log
            lease: 60s
            poll_interval: 50ms
            """)
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let id = try XCTUnwrap(try NotifierTests.escalations(harness, clients: 1).first)
        let notifier = try harness.startNotifier()
        try eventually("the command started") { Self.pids(started).count == 1 }
        let before = Self.memoryKiB(notifier.process.processIdentifier, "VmHWM")
        try eventually("the escalation dead (exit 1)") { try Self.task(harness, id)["state"] as? String == "dead" }
        let peak = Self.memoryKiB(notifier.process.processIdentifier, "VmHWM")
        print("notifier peak RSS: \(before) KiB before the 10 MB of stderr, \(peak) KiB after")
        XCTAssertGreaterThan(before, 0)
        XCTAssertLessThan(peak - before, 6 * 1024, "the stderr (10 MB) was not kept in memory")

        let error = try Self.task(harness, id)["last_error"] as? String ?? ""
        print("last_error: \(error.utf8.count) bytes, starting \(error.prefix(80))")
        XCTAssertTrue(error.hasPrefix(#"/bin/sh exited 1: \u{1b}[31mforged\ncritical line \u{1b}"#), error)
        XCTAssertTrue(error.contains("more bytes dropped"), String(error.suffix(100)))
        XCTAssertLessThan(error.utf8.count, 4_096 + 100)
        XCTAssertEqual(notifier.stop(), 0)
        let log = notifier.log
        XCTAssertFalse(log.utf8.contains(0x1b), "no raw ESC in the log")
        let lines = log.split(separator: "\n")
        XCTAssertFalse(lines.contains { $0.hasPrefix("critical line") }, "no forged line in the log")
        let dead = lines.filter { $0.contains("could not be delivered to noisy") }
        XCTAssertEqual(dead.count, 1, log)
        XCTAssertTrue(dead.first?.contains(#"\u{1b}[31mforged\ncritical line"#) ?? false, "\(dead)")
        print("the dead task's log line: \(dead.first?.utf8.count ?? 0) bytes")
        XCTAssertLessThan(dead.first?.utf8.count ?? .max, 4_096 + 1_000)
    }

    /// `vigil queue show ID --json`.
    static func task(_ harness: Harness, _ id: String) throws -> [String: Any] {
        let result = try harness.run(["queue", "show", id, "--json"])
        guard result.status == 0,
            let task = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        else { throw HarnessError("queue show failed: \(result)") }
        return task
    }

    /// The pids a command wrote to `path`, one a line.
    static func pids(_ path: String) -> [pid_t] {
        (procText(path) ?? "").split(separator: "\n").compactMap { pid_t($0) }
    }

    /// A file read to its end (files in /proc report no size); nil if it does not exist.
    static func procText(_ path: String) -> String? {
        FileHandle(forReadingAtPath: path).map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }
    }

    /// Field `field` of /proc/PID/stat counted from the state (0), after the command's name.
    static func stat(_ pid: pid_t, field: Int) -> String? {
        guard let stat = procText("/proc/\(pid)/stat"), let name = stat.range(of: ") ", options: .backwards) else {
            return nil
        }
        let fields = stat[name.upperBound...].split(separator: " ")
        return field < fields.count ? String(fields[field]) : nil
    }

    /// Whether `pid` runs: it exists and is not a zombie (dead, waiting for its parent to reap it).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let state = stat(pid, field: 0) else { return false }
        return state != "Z"
    }

    /// A `Vm…` line of /proc/PID/status, in KiB (0 if absent).
    static func memoryKiB(_ pid: pid_t, _ key: String) -> Int {
        let line = (procText("/proc/\(pid)/status") ?? "").split(separator: "\n").first { $0.hasPrefix(key + ":") }
        let fields = line?.split { $0 == " " || $0 == "\t" } ?? []
        return fields.count > 1 ? Int(fields[1]) ?? 0 : 0
    }
}
