import Foundation
import Glibc
import XCTest

/// A SIGTERM the instant a daemon says it started (as systemd sends one right after READY=1, or an
/// operator's stop right after a start) is a graceful stop, exit 0, never the signal's default death.
final class StopAtStartTests: XCTestCase {
    func testTheDaemonStoppedTheMomentItStartedExitsCleanly() throws {
        let harness = try Harness()
        try assertStopsCleanly(harness, ["serve"], startedLine: "vigil started")
    }

    func testTheNotifierStoppedTheMomentItStartedExitsCleanly() throws {
        let harness = try Harness()
        try harness.configureNotifier(
            """
            channels:
              log: {type: journal}
            default_channel: log
            """)
        try assertStopsCleanly(harness, ["notify"], startedLine: "vigil notifier started")
    }

    /// Starts `command` ten times, each time sending SIGTERM from the thread reading its stderr as
    /// soon as `startedLine` arrives, and expects exit 0 every time.
    private func assertStopsCleanly(_ harness: Harness, _ command: [String], startedLine: String) throws {
        var statuses: [String] = []
        for _ in 0..<10 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Harness.binary)
            process.arguments = command + ["--config", harness.configPath, "--log", "stderr"]
            process.currentDirectoryURL = URL(fileURLWithPath: harness.root)
            var environment = ProcessInfo.processInfo.environment
            for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] { environment[key] = nil }
            process.environment = environment
            let stderr = Pipe()
            process.standardError = stderr
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let reader = stderr.fileHandleForReading.fileDescriptor
            var seen = ""
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !seen.contains(startedLine) {
                let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                seen += String(decoding: buffer[0..<count], as: UTF8.self)
                if seen.contains(startedLine) { kill(process.processIdentifier, SIGTERM) }
            }
            XCTAssertTrue(seen.contains(startedLine), seen)
            let rest = stderr.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let how = process.terminationReason == .uncaughtSignal ? "killed by signal" : "exit"
            statuses.append("\(how) \(process.terminationStatus)")
            if process.terminationReason != .exit || process.terminationStatus != 0 {
                let log = seen + String(decoding: rest, as: UTF8.self)
                XCTFail("\(command[0]) stopped at start: \(how) \(process.terminationStatus)\n\(log)")
            }
        }
        print("\(command[0]) stopped the moment it started, 10 times: \(Set(statuses).sorted())")
    }
}
