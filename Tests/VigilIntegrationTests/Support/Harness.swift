import Foundation
import Glibc
import XCTest

/// A throwaway Vigil installation for one test: a directory with a config, a spool, a state
/// directory and the repository's `Rules/`, driven through the real `vigil` binary.
final class Harness {
    let root: String
    let configPath: String
    var spool: String { root + "/spool" }
    var state: String { root + "/state" }
    var new: String { spool + "/new" }
    var rejected: String { spool + "/rejected" }

    /// The repository checkout (for `Rules/` and `docs/`).
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `vigil` executable built next to this test bundle.
    static let binary: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return (executable as NSString).deletingLastPathComponent + "/vigil"
    }()

    /// `vigil-testd`, built beside it: the same daemon and notifier with test-only clocks and faults.
    static let testBinary = (binary as NSString).deletingLastPathComponent + "/vigil-testd"

    init(extraConfig: String = "") throws {
        let template = NSTemporaryDirectory() + "vigil-test-XXXXXX"
        var buffer = Array(template.utf8CString)
        guard mkdtemp(&buffer) != nil else { throw HarnessError("mkdtemp failed") }
        root = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        configPath = root + "/vigil.yaml"
        let config = "spool: spool\nstate: state\nrules: \(Self.repository)/Rules\n" + extraConfig
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        // As tmpfiles.d does in a deployment: the spool exists before any writer or the daemon.
        for directory in [spool, spool + "/tmp", spool + "/new", spool + "/rejected"] {
            guard mkdir(directory, 0o2770) == 0 else { throw HarnessError("mkdir \(directory) failed") }
        }
        XCTAssertTrue(
            FileManager.default.isExecutableFile(atPath: Self.binary), "vigil binary not found at \(Self.binary)")
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Copies the repository's `Rules/` to `ROOT/rules` and points the configuration at the copy, for
    /// tests that edit the pack; returns the copy's path.
    @discardableResult
    func useCopyOfRules() throws -> String {
        let rules = root + "/rules"
        try FileManager.default.copyItem(atPath: Self.repository + "/Rules", toPath: rules)
        try "spool: spool\nstate: state\nrules: \(rules)\n".write(
            toFile: configPath, atomically: true, encoding: .utf8)
        return rules
    }

    /// Rewrites the configuration (spool, state, the repository's rules or `rules`) with a
    /// `notifier:` section: `section` is its YAML body, unindented.
    func configureNotifier(state: String = "state", rules: String = repository + "/Rules", _ section: String) throws {
        let body = section.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
        try "spool: spool\nstate: \(state)\nrules: \(rules)\nnotifier:\n\(body.joined(separator: "\n"))\n"
            .write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Runs `vigil ARGS --config …` to completion; one still running after `timeout` seconds (a
    /// daemon that should have refused to start) fails the test and is killed.
    @discardableResult
    func run(
        _ arguments: [String], stdin: String? = nil, config: Bool = true, timeout: Double = 600,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments + (config ? ["--config", configPath] : [])
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let started = Date()
        let watchdog = DispatchWorkItem { [process] in kill(process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        if Date().timeIntervalSince(started) >= timeout {
            XCTFail(
                "vigil \(arguments.joined(separator: " ")) still ran after \(timeout) s: killed", file: file, line: line
            )
        }
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts `vigil serve` in the background with stderr logging to `root/serve.log`.
    func startDaemon(
        environment extra: [String: String] = [:], arguments: [String] = [], binary: String = Harness.binary
    ) throws -> Daemon {
        try start(["serve", "--log-level", "debug"] + arguments, log: "serve.log", environment: extra, binary: binary)
    }

    /// Starts `vigil notify` in the background with stderr logging to `root/notify.log`.
    func startNotifier(
        environment extra: [String: String] = [:], arguments: [String] = [], binary: String = Harness.binary
    ) throws -> Daemon {
        try start(["notify"] + arguments, log: "notify.log", environment: extra, binary: binary)
    }

    /// Starts `vigil COMMAND --config … --log stderr` in the background, logging to `root/LOG`.
    func start(
        _ command: [String], log name: String, environment extra: [String: String] = [:],
        binary: String = Harness.binary
    ) throws -> Daemon {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [command[0], "--config", configPath, "--log", "stderr"] + command.dropFirst()
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        var environment = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] { environment[key] = nil }
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let logPath = root + "/" + name
        if !FileManager.default.fileExists(atPath: logPath) {
            guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
                throw HarnessError("cannot create \(logPath)")
            }
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let offset = log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        return Daemon(process: process, logPath: logPath, logOffset: Int(offset))
    }

    /// `vigil queue list --all --json`: every task, in queue order.
    func tasks() throws -> [[String: Any]] {
        let result = try run(["queue", "list", "--all", "--json", "--limit", "1000000"])
        guard result.status == 0,
            let tasks = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
        else { throw HarnessError("queue list failed: \(result)") }
        return tasks
    }

    /// Rows of `sql` straight from the SQLite file (first column), read with python's sqlite3.
    func query(_ sql: String) throws -> [String] {
        let (status, output) = try runCommand([
            "python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True); [print(r[0]) for r in c.execute(sys.argv[2])]",
            state + "/vigil.sqlite", sql,
        ])
        guard status == 0 else { throw HarnessError("query failed: \(output)") }
        return output.split(separator: "\n").map(String.init)
    }

    /// `vigil status --json` as a dictionary.
    func status() throws -> [String: Any] {
        let result = try run(["status", "--json"])
        guard result.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        else { throw HarnessError("status failed: \(result)") }
        return object
    }

    func count(_ key: String) throws -> Int { (try status()[key] as? Int) ?? -1 }

    /// Writes a file into `new/` the way a spool writer must (tmp, fsync, rename).
    func drop(_ name: String, _ content: String) throws { try drop(name, Array(content.utf8)) }

    func drop(_ name: String, _ bytes: [UInt8]) throws {
        let temporary = spool + "/tmp/" + name
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw HarnessError("cannot create \(temporary)")
        }
        guard rename(temporary, new + "/" + name) == 0 else { throw HarnessError("rename \(name) failed") }
    }

    func names(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// The result of a finished command.
    struct Result: CustomStringConvertible {
        let status: Int32
        let stdout: String
        let stderr: String
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    /// A running `vigil serve` or `vigil notify`.
    final class Daemon {
        let process: Process
        let logPath: String
        let logOffset: Int

        init(process: Process, logPath: String, logOffset: Int) {
            self.process = process
            self.logPath = logPath
            self.logOffset = logOffset
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }

        /// What this run of the daemon logged.
        var log: String {
            let data = FileManager.default.contents(atPath: logPath) ?? Data()
            return String(decoding: data.dropFirst(logOffset), as: UTF8.self)
        }

        /// What to show when this run failed: a crash report from its first line (the runtime's
        /// message and the crashed thread's frames come first; the image list at its end says
        /// little), else the log's last 3,000 characters.
        var ending: String {
            let log = self.log
            guard
                let crash = ["Fatal error", "Program crashed", "Assertion failed", "Precondition failed"]
                    .compactMap({ log.range(of: $0)?.lowerBound }).min()
            else { return String(log.suffix(3000)) }
            return String(log[crash...].prefix(6000))
        }

        /// SIGTERM once the daemon has started (signals are handled from then on), then the exit status.
        /// A daemon that has not exited `timeout` seconds after SIGTERM fails the test and is killed,
        /// so a shutdown that hangs fails its suite instead of stalling the whole run.
        func stop(timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line) -> Int32 {
            try? eventually("the daemon started") {
                log.contains("vigil started") || log.contains("notifier started") || log.contains("vigil api started")
                    || !process.isRunning
            }
            kill(process.processIdentifier, SIGTERM)
            let exited: Void? = try? eventually(
                timeout: timeout, "the daemon to exit after SIGTERM", file: file, line: line
            ) {
                !process.isRunning
            }
            if exited == nil { crash() }
            process.waitUntilExit()
            return process.terminationStatus
        }

        /// SIGKILL: the crash the store and spool must survive.
        func crash() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass; an error thrown by the
/// condition (say, the store not created yet) counts as "not yet" and is reported on timeout.
func eventually(
    timeout: Double = 30, _ message: @autoclosure () -> String = "condition", file: StaticString = #filePath,
    line: UInt = #line, _ condition: () throws -> Bool
) throws {
    let deadline = Date().addingTimeInterval(timeout)
    var lastError: (any Error)?
    while Date() < deadline {
        do {
            if try condition() { return }
        } catch {
            lastError = error
        }
        usleep(20_000)
    }
    let detail = lastError.map { " (last error: \($0))" } ?? ""
    XCTFail("timed out after \(timeout) s waiting for \(message())\(detail)", file: file, line: line)
    throw HarnessError("timed out waiting for \(message())")
}

/// A check-in as JSON text, with overridable fields.
func checkIn(
    id: String? = nil, client: String = "c-001", at: String = "2026-01-05T10:00:00Z", kind: String = "checkin",
    extra: String = ""
) -> String {
    let idField = id.map { "\"id\":\"\($0)\"," } ?? ""
    return "{\(idField)\"client\":\"\(client)\",\"at\":\"\(at)\",\"kind\":\"\(kind)\",\"source\":\"peer\"\(extra)}"
}
