import Foundation
import Glibc
import XCTest

/// Spool writers and local users acting against the daemon (issue 12): writers in the spool's
/// group run as unprivileged uids through `setpriv`; the daemon is the real `vigil serve`.
final class HostileWriterTests: XCTestCase {
    /// The spool's group and two writers in it (numeric ids: no account is needed).
    static let group: UInt32 = 48_620
    static let alice: UInt32 = 48_621
    static let bob: UInt32 = 48_622

    /// A harness whose spool is laid out as tmpfiles.d lays it out, reachable by the writers, with
    /// its own copies of the rules and the binary (the checkout may not be theirs to read).
    func writersHarness() throws -> (Harness, binary: String) {
        guard getuid() == 0 else { throw XCTSkip("SKIPPED LOUDLY: not root; writers with other uids were NOT tested") }
        let harness = try Harness()
        try harness.useCopyOfRules()
        XCTAssertEqual(chmod(harness.root, 0o755), 0)
        let binary = harness.root + "/vigil"
        try FileManager.default.copyItem(atPath: Harness.binary, toPath: binary)
        for (path, mode) in [
            (harness.spool, 0o2750), (harness.spool + "/tmp", 0o3770), (harness.new, 0o3770), (harness.rejected, 0o700),
        ] {
            XCTAssertEqual(chown(path, 0, Self.group), 0)
            XCTAssertEqual(chmod(path, mode_t(mode)), 0)
        }
        return (harness, binary)
    }

    /// Runs `arguments` as `uid`, a member of the spool's group.
    func asWriter(_ uid: UInt32, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String)
    {
        try runCommand(
            ["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--groups=\(Self.group)", "--"] + arguments, input: input)
    }

    func testWritersCanDropButNeverMoveTheSpoolNorTouchOrReadAnotherWritersFiles() throws {
        let (harness, binary) = try writersHarness()
        let submitted = try asWriter(
            Self.alice, [binary, "submit", "--config", harness.configPath, "-"],
            input: checkIn(id: "a-1", client: "c-alice", at: ResponsePlanTests.time(-60)))
        XCTAssertEqual(submitted.status, 0, "a writer in the group submits: \(submitted.output)")
        let pending = try XCTUnwrap(harness.names(in: harness.new).first, "alice's file waits in new/")
        let file = harness.new + "/" + pending
        let moved = harness.root + "/elsewhere"
        let attacks: [(String, [String])] = [
            ("delete another writer's pending file", ["rm", "-f", file]),
            ("rename another writer's pending file", ["mv", file, harness.new + "/stolen.json"]),
            ("overwrite another writer's pending file", ["sh", "-c", "echo '{}' > '\(file)'"]),
            ("move new/ away", ["mv", harness.new, moved]),
            ("put a link beside new/", ["ln", "-s", harness.state, harness.spool + "/link"]),
            ("remove rejected/", ["rmdir", harness.rejected]),
        ]
        for (attack, command) in attacks {
            let result = try asWriter(Self.bob, command)
            XCTAssertNotEqual(result.status, 0, "a writer could \(attack): \(result.output)")
        }
        XCTAssertEqual(harness.names(in: harness.new), [pending], "alice's file is still there, unchanged")
        XCTAssertTrue(try String(contentsOfFile: file, encoding: .utf8).contains("a-1"))
        // Bob's own refused file: a writer may create and rename its own files only.
        let dropped = try asWriter(
            Self.bob,
            [
                "sh", "-c",
                "printf '%s' '{\"client\":\"c-bob\",\"at\":\"nonsense\",\"kind\":\"checkin\",\"source\":\"peer\",\"note\":\"bob private\"}' > '\(harness.spool)/tmp/bob.json' && mv '\(harness.spool)/tmp/bob.json' '\(harness.new)/bob.json'",
            ])
        XCTAssertEqual(dropped.status, 0, dropped.output)

        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try eventually("both files handled") { harness.names(in: harness.new).isEmpty }
        XCTAssertEqual(try harness.query("SELECT id FROM events"), ["a-1"], "alice's check-in stored")
        XCTAssertEqual(harness.names(in: harness.rejected), ["bob.json", "bob.json.why"])
        var info = stat()
        XCTAssertEqual(stat(harness.rejected + "/bob.json.why", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600, "the daemon's own files in rejected/ are private")
        for (attack, command) in [
            ("list rejected/", ["ls", harness.rejected]),
            ("read a refused check-in", ["cat", harness.rejected + "/bob.json"]),
            ("read why it was refused", ["cat", harness.rejected + "/bob.json.why"]),
        ] {
            let result = try asWriter(Self.alice, command)
            XCTAssertNotEqual(result.status, 0, "another writer could \(attack): \(result.output)")
            XCTAssertFalse(result.output.contains("bob private"))
        }
        // The daemon keeps the modes exact, whatever they were.
        for (path, mode) in [
            (harness.spool, 0o2750), (harness.spool + "/tmp", 0o3770), (harness.new, 0o3770), (harness.rejected, 0o700),
        ] {
            XCTAssertEqual(stat(path, &info), 0)
            XCTAssertEqual(Int(info.st_mode & 0o7777), mode, path)
        }
    }

    /// Beyond what a writer can do now: `new/` renamed and a link to the state directory put in its
    /// place (as a writer could before, or root by mistake). The daemon acts only through the
    /// directories it opened: its store is never moved, intake through the real `new/` goes on, and
    /// the change is logged at LOG_CRIT once; a restart refuses the link.
    func testALinkInPlaceOfNewNeverReachesTheStore() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try harness.drop("first.json", checkIn(id: "l-1", client: "c-link", at: ResponsePlanTests.time(-60)))
        try eventually("the first check-in stored") { try harness.query("SELECT count(*) FROM events") == ["1"] }
        let away = harness.spool + "/new.away"
        XCTAssertEqual(rename(harness.new, away), 0)
        XCTAssertEqual(symlink(harness.state, harness.new), 0)
        // A file in the real new/ (the daemon's descriptor still leads there) wakes it.
        for index in 2...3 {
            let temporary = harness.spool + "/tmp/f\(index).json"
            try checkIn(id: "l-\(index)", client: "c-link", at: ResponsePlanTests.time(Double(-50 + index))).write(
                toFile: temporary, atomically: false, encoding: .utf8)
            XCTAssertEqual(rename(temporary, away + "/f\(index).json"), 0)
            try eventually("l-\(index) stored through the held new/") {
                try harness.query("SELECT count(*) FROM events") == ["\(index)"]
            }
        }
        let state = harness.names(in: harness.state)
        XCTAssertTrue(state.contains("vigil.sqlite"), "the store is where it was: \(state)")
        XCTAssertFalse(harness.names(in: harness.rejected).contains { $0.hasPrefix("vigil.sqlite") })
        try eventually("the change logged") { daemon.log.contains("the spool's layout changed under the daemon") }
        XCTAssertEqual(
            daemon.log.components(separatedBy: "the spool's layout changed under the daemon").count - 1, 1,
            "logged once while it lasts")
        XCTAssertTrue(daemon.log.contains("critical"), daemon.log)
        let submit = try harness.run(["submit", "-"], stdin: checkIn(id: "l-9", client: "c-link"))
        XCTAssertEqual(submit.status, 74, "submit never writes through the link: \(submit)")
        XCTAssertEqual(daemon.stop(), 0)

        let refused = try harness.run(["serve", "--log", "stderr"])
        XCTAssertEqual(refused.status, 77, "\(refused)")
        XCTAssertTrue(
            refused.stderr.contains(harness.new) && refused.stderr.contains("symlinks are refused"), "\(refused)")
        XCTAssertEqual(unlink(harness.new), 0)
        XCTAssertEqual(rename(away, harness.new), 0)
        let again = try harness.startDaemon()
        defer { _ = again.stop() }
        try eventually("the daemon serves again") { again.log.contains("vigil started") }
        XCTAssertEqual(try harness.query("SELECT count(*) FROM events"), ["3"], "nothing lost")
    }

    /// Layouts and permissions that would let the daemon eat its own files, or let someone else
    /// decide what it does, are refused at start (77 or 78), naming the paths.
    func testDangerousLayoutsAndPermissionsAreRefusedAtStart() throws {
        let harness = try Harness()
        let rules = try harness.useCopyOfRules()
        func serve(_ config: String) throws -> Harness.Result {
            try config.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
            return try harness.run(["serve", "--log", "stderr"])
        }
        let layouts: [(String, String, [String])] = [
            ("state inside new/", "spool: spool\nstate: spool/new/state\nrules: rules\n", ["spool/new/state"]),
            ("the spool is the state", "spool: spool\nstate: spool\nrules: rules\n", ["same directory"]),
            ("spool inside state", "spool: state/spool\nstate: state\nrules: rules\n", ["state/spool"]),
            ("rules inside the spool", "spool: spool\nstate: state\nrules: spool/rules\n", ["rules directory"]),
            ("rules inside the state", "spool: spool\nstate: rules/state\nrules: rules\n", ["rules/state"]),
        ]
        for (name, config, mentions) in layouts {
            let result = try serve(config)
            XCTAssertEqual(result.status, 78, "\(name): \(result)")
            for mention in mentions {
                XCTAssertTrue(result.stderr.contains(mention), "\(name) names \(mention): \(result)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.new + "/state"), "nothing created in new/")

        try "spool: spool\nstate: state\nrules: rules\n".write(
            toFile: harness.configPath, atomically: true, encoding: .utf8)
        let writable: [(String, String)] = [
            ("the configuration", harness.configPath), ("the rules directory", rules),
            ("a rule file", rules + "/warning-signs.yaml"), ("a rule test", rules + "/tests/cssrs.yaml"),
        ]
        for (name, path) in writable {
            var info = stat()
            XCTAssertEqual(stat(path, &info), 0, path)
            XCTAssertEqual(chmod(path, (info.st_mode & 0o7777) | 0o002), 0)
            let result = try harness.run(["serve", "--log", "stderr"])
            XCTAssertEqual(result.status, 77, "\(name) world-writable: \(result)")
            XCTAssertTrue(result.stderr.contains(path) && result.stderr.contains("writable by every user"), "\(result)")
            XCTAssertEqual(chmod(path, info.st_mode & 0o7777), 0)
        }
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: harness.state + "/vigil.sqlite"), "refused before the store")

        // The notifier's exec commands: the program and its directory.
        let bin = harness.root + "/bin"
        XCTAssertEqual(mkdir(bin, 0o755), 0)
        let program = bin + "/send-sms"
        try "#!/bin/sh\ncat >/dev/null\n".write(toFile: program, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(program, 0o755), 0)
        try harness.configureNotifier("channels:\n  sms: {type: exec, command: [\(program)]}\ndefault_channel: sms")
        let script = harness.root + "/alert.sh"
        try "cat >/dev/null\n".write(toFile: script, atomically: true, encoding: .utf8)
        try harness.configureNotifier(
            "channels:\n  sms: {type: exec, command: [/bin/sh, \(script)]}\ndefault_channel: sms")
        XCTAssertEqual(chmod(script, 0o646), 0)
        let interpreted = try harness.run(["notify", "--once", "--log", "stderr"])
        XCTAssertEqual(interpreted.status, 77, "a script the command runs, world-writable: \(interpreted)")
        XCTAssertTrue(interpreted.stderr.contains(script), "\(interpreted)")
        try harness.configureNotifier("channels:\n  sms: {type: exec, command: [\(program)]}\ndefault_channel: sms")
        for (name, path, mode) in [("the command", program, mode_t(0o757)), ("its directory", bin, mode_t(0o777))] {
            XCTAssertEqual(chmod(path, mode), 0)
            let result = try harness.run(["notify", "--once", "--log", "stderr"])
            XCTAssertEqual(result.status, 77, "\(name) world-writable: \(result)")
            XCTAssertTrue(result.stderr.contains(path), "\(result)")
            XCTAssertEqual(chmod(path, 0o755), 0)
        }
        let fine = try harness.run(["notify", "--once", "--log", "stderr"])
        XCTAssertEqual(fine.status, 0, "the same deployment with private modes runs: \(fine)")
    }

    /// A store file emptied or removed after it was created is refused, never silently recreated.
    func testAnEmptiedOrMissingStoreIsRefusedNotRecreated() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try harness.drop("one.json", checkIn(id: "e-1", client: "c-empty", at: ResponsePlanTests.time(-60)))
        try eventually("stored") { try harness.query("SELECT count(*) FROM events") == ["1"] }
        XCTAssertEqual(daemon.stop(), 0)
        let database = harness.state + "/vigil.sqlite"
        XCTAssertTrue(FileManager.default.fileExists(atPath: database + ".created"), "the marker beside the store")
        XCTAssertEqual(truncate(database, 0), 0)
        for command in [["serve"], ["notify", "--once"]] {
            let result = try harness.run(command + ["--log", "stderr"], timeout: 30)
            XCTAssertEqual(result.status, 78, "\(command[0]) on an emptied store: \(result)")
            XCTAssertTrue(
                result.stderr.contains("the database is empty") && result.stderr.contains(".created"), "\(result)")
        }
        XCTAssertEqual(unlink(database), 0)
        let missing = try harness.run(["serve", "--log", "stderr"], timeout: 30)
        XCTAssertEqual(missing.status, 78, "\(missing)")
        XCTAssertTrue(missing.stderr.contains("the database is missing"), "\(missing)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: database), "no new, empty store was made")
    }

    /// The marker must not make the daemon and the notifier refuse a store they create together
    /// (a new store's pages sit in the write-ahead log until a checkpoint; a marker beside a file
    /// still empty failed one of them, found by the full suite).
    func testTheDaemonAndTheNotifierCreatingAStoreTogetherBothComeUp() throws {
        for round in 1...8 {
            let harness = try Harness()
            let daemon = try harness.startDaemon()
            let notifier = try harness.startNotifier()
            try eventually(
                "round \(round): both started: daemon running \(daemon.process.isRunning), notifier running "
                    + "\(notifier.process.isRunning):\n\(daemon.log)\n\(notifier.log)"
            ) {
                daemon.log.contains("vigil started") && notifier.log.contains("notifier started")
            }
            usleep(300_000)
            XCTAssertTrue(daemon.process.isRunning, "round \(round): the daemon refused the store:\n\(daemon.log)")
            XCTAssertTrue(notifier.process.isRunning, "round \(round): the notifier refused it:\n\(notifier.log)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: harness.state + "/vigil.sqlite.created"))
            XCTAssertEqual(daemon.stop(), 0)
            XCTAssertEqual(notifier.stop(), 0)
        }
    }

    /// A file name with a newline cannot forge a log line on stderr; rule text with control
    /// characters is refused by `rules check` (and so never reaches `client show` or a log).
    func testFileNamesAndRuleTextCannotForgeLogLinesOrDriveATerminal() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        let forged = "2026-12-02T00:00:00+0000 critical vigil : [message_id=25fcdcb9734545e3adae14e5ed4fb328] FORGED"
        try harness.drop("evil\n\(forged)\u{1B}[2J.json", "{not json")
        try eventually("the file rejected") { harness.names(in: harness.rejected).count == 2 }
        try eventually("its rejection logged") { daemon.log.contains("check-in rejected") }
        let lines = daemon.log.split(separator: "\n")
        XCTAssertFalse(lines.contains { $0.hasPrefix("2026-12-02T00:00:00+0000") }, "a forged line:\n\(daemon.log)")
        XCTAssertFalse(daemon.log.contains("\u{1B}"), "a raw escape sequence reached the log")
        XCTAssertTrue(
            daemon.log.contains("evil\\n2026-12-02T00:00:00+0000"), "the name is kept, escaped:\n\(daemon.log)")

        let rules = try harness.useCopyOfRules()
        let file = rules + "/warning-signs.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let summary = try XCTUnwrap(text.range(of: "summary: "))
        let lineEnd = try XCTUnwrap(text[summary.upperBound...].firstIndex(of: "\n"))
        try text.replacingCharacters(
            in: summary.lowerBound..<lineEnd, with: "summary: >\n      Two or more check-ins\n      with stressors"
        ).write(toFile: file, atomically: true, encoding: .utf8)
        let folded = try harness.run(["rules", "check", rules], config: false)
        XCTAssertEqual(folded.status, 0, "a folded block scalar (it ends in a newline) is accepted: \(folded)")
        for (name, replacement) in [
            ("an escape sequence", #"summary: "Hopeless \e[2J\e[31mIMMINENT""#),
            ("a newline", #"summary: "Hopeless\n2026-12-02 critical forged""#),
        ] {
            try text.replacingCharacters(in: summary.lowerBound..<lineEnd, with: replacement).write(
                toFile: file, atomically: true, encoding: .utf8)
            let check = try harness.run(["rules", "check", rules], config: false)
            XCTAssertEqual(check.status, 1, "\(name) in a summary is refused: \(check)")
            XCTAssertTrue(check.stderr.contains("control character"), "\(check)")
            XCTAssertFalse(check.stderr.contains("\u{1B}"), "the error itself is escaped: \(check)")
        }
    }

    /// Identity is (client, id): another client's check-in that claims a crisis's id first cannot
    /// turn it into a refused duplicate. And a crisis that is refused for a real reason (a broken
    /// file, the same client reusing an id) raises a supervisors' task and a LOG_CRIT entry.
    func testASquattedIdCannotSilenceACrisisAndARefusedCrisisIsNeverSilent() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try harness.drop(
            "a-squat.json", checkIn(id: "crisisline-000123", client: "c-squatter", at: ResponsePlanTests.time(-120)))
        try eventually("the squatter stored") { try harness.query("SELECT count(*) FROM events") == ["1"] }
        try harness.drop(
            "b-crisis.json",
            ResponsePlanTests.highScreening(id: "crisisline-000123", client: "c-real", at: ResponsePlanTests.time(-60)))
        try eventually("the genuine crisis stored") { try harness.query("SELECT count(*) FROM events") == ["2"] }
        try eventually("and escalated") {
            try harness.tasks().contains {
                $0["client"] as? String == "c-real" && $0["kind"] as? String == "escalation"
            }
        }
        XCTAssertTrue(
            harness.names(in: harness.rejected).isEmpty, "nothing refused: \(harness.names(in: harness.rejected))")

        // Refused for real reasons: a reused id with other content, a broken screening, a broken file.
        try harness.drop(
            "c-reuse.json",
            ResponsePlanTests.imminentScreening(
                id: "crisisline-000123", client: "c-real", at: ResponsePlanTests.time(-30)))
        try harness.drop(
            "d-broken.jsonl",
            checkIn(id: "ok-1", client: "c-batch", at: ResponsePlanTests.time(-20)) + "\n"
                + checkIn(
                    id: "bad-1", client: "c-broken", at: "yesterday", kind: "screening",
                    extra:
                        #","screening":{"wish_dead":true,"suicidal_thoughts":false,"behavior_past_3_months":false},"note":"private words""#
                )
                + "\n")
        try harness.drop("e-garbage.json", #"{"client": "c-garbage", "kind": "overdose", "at": "#)
        // Writable by other writers (one could have changed it), and a wrong extension.
        let loose = harness.spool + "/tmp/f-loose.json"
        try checkIn(id: "l-1", client: "c-loose", at: ResponsePlanTests.time(-10), kind: "overdose").write(
            toFile: loose, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(loose, 0o664), 0)
        XCTAssertEqual(rename(loose, harness.new + "/f-loose.json"), 0)
        try harness.drop(
            "g-screening.txt",
            ResponsePlanTests.highScreening(id: "x-1", client: "c-extension", at: ResponsePlanTests.time(-10)))
        try eventually("every file handled") { harness.names(in: harness.new).isEmpty }
        try eventually("the batch's good line stored") { try harness.query("SELECT count(*) FROM events") == ["3"] }
        let supervisors = try harness.tasks().filter { $0["route"] as? String == "supervisor" }
        let clients = Set(supervisors.compactMap { $0["client"] as? String })
        XCTAssertEqual(
            clients, ["c-real", "c-broken", "unknown", "c-loose", "c-extension"],
            "one supervisors' task per refused crisis: \(supervisors)")
        XCTAssertTrue(
            supervisors.allSatisfy { $0["kind"] as? String == "escalation" && $0["tier"] as? String == "high" })
        let instructions = supervisors.compactMap { $0["instruction"] as? String }.joined(separator: "\n")
        XCTAssertTrue(instructions.contains("an overdose (the file is not valid JSON)"), instructions)
        XCTAssertFalse(instructions.contains("private words"), "the note never reaches a task")
        XCTAssertFalse(instructions.contains(".json"), "nor a writer's file name (it may hold a name)")
        try eventually("each logged at LOG_CRIT") {
            daemon.log.components(separatedBy: "was refused and not scored").count - 1 == 5
        }
        XCTAssertTrue(daemon.log.contains("is writable by other writers (mode 664)"), daemon.log)
        for file in ["c-reuse.json", "d-broken.jsonl:2", "e-garbage.json", "f-loose.json", "g-screening.txt"] {
            XCTAssertTrue(
                daemon.log.split(separator: "\n").contains { $0.contains("critical") && $0.contains("file=\(file)") },
                "\(file) named at LOG_CRIT:\n\(daemon.log)")
        }
        // Delivered like any escalation (here to the journal, the default channel).
        let notify = try harness.run(["notify", "--once", "--log", "stderr"])
        XCTAssertEqual(notify.status, 0, "\(notify)")
        let delivered = try harness.tasks().filter { $0["route"] as? String == "supervisor" }
        XCTAssertTrue(delivered.allSatisfy { $0["state"] as? String == "delivered" }, "\(delivered)")
    }

    /// One client's 10,000 check-ins in one batch, beside another client's crisis: the daemon feeds
    /// its watchdog between slices of the long chunk, and the crisis is escalated. (`vigil bench
    /// ingest` part (c) times the same against 10,000 clients and prints the ratio.)
    func testADenseClientNeitherStarvesTheWatchdogNorAnotherClientsCrisis() throws {
        let harness = try Harness()
        let socket = try NotifySocket(path: harness.root + "/notify.sock")
        let watchdog = 3.0
        let daemon = try harness.startDaemon(
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "\(Int(watchdog * 1_000_000))"])
        defer { _ = daemon.stop() }
        try eventually("ready") { socket.messages.contains { $0.contains("READY=1") } }
        let now = Date()
        let signs = ["isolation", "hopelessness", "withdrawing_from_routines", "romanticizing_use"]
        let lines = (0..<10_000).map { index in
            checkIn(
                id: "d-\(index)", client: "c-dense",
                at: ResponsePlanTests.time(-10 * Double(10_000 - index), from: now),
                extra:
                    #","measures":{"mood":\#(index % 11),"sleep_hours":\#(4 + index % 6)},"signs":["\#(signs[index % 4])"]"#
            )
        }
        try harness.drop("a-dense.jsonl", lines.joined(separator: "\n") + "\n")
        try harness.drop(
            "b-crisis.json",
            ResponsePlanTests.highScreening(id: "x-1", client: "c-other", at: ResponsePlanTests.time(-5)))
        let dropped = Date()
        try eventually(timeout: 300, "all 10,001 check-ins stored") {
            try harness.query("SELECT count(*) FROM events") == ["10001"]
        }
        let done = Date()
        try eventually("the other client's crisis escalated") {
            try harness.tasks().contains {
                $0["client"] as? String == "c-other" && $0["kind"] as? String == "escalation"
            }
        }
        let pings = socket.watchdogPings.filter { $0 >= dropped && $0 <= done }
        let gaps = zip(pings.dropFirst(), pings).map { $0.timeIntervalSince($1) }
        let longest = max(
            gaps.max() ?? 0, (pings.first ?? done).timeIntervalSince(dropped),
            done.timeIntervalSince(pings.last ?? dropped))
        print(
            "dense client: 10,000 check-ins stored in \(String(format: "%.2f", done.timeIntervalSince(dropped))) s; "
                + "\(pings.count) watchdog pings meanwhile, longest gap \(String(format: "%.2f", longest)) s (WatchdogSec \(watchdog) s)"
        )
        XCTAssertLessThan(longest, watchdog, "the watchdog went unfed for longer than its interval")
        let slices = daemon.log.components(separatedBy: "committed a slice").count - 1
        XCTAssertGreaterThanOrEqual(slices, 2, "the 10,000 check-ins were committed in slices, with pings between")
    }
}
