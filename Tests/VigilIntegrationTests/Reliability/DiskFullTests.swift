import Foundation
import Glibc
import XCTest

/// The store on a small tmpfs that fills up, and on ext4 that the kernel turns read-only: the
/// daemon stops taking files it cannot commit and leaves them in `new/`, logs LOG_CRIT once per
/// outage (not a flood), keeps the watchdog fed, and catches up by itself when space returns.
final class DiskFullTests: XCTestCase {
    func testAFullStoreLosesNothingAndCatchesUpByItself() throws {
        let harness = try Harness()
        let mountPoint = try mountTmpfs(harness, at: "statefs", size: "2m")
        let (daemon, socket) = try startOnStatefs(harness)
        defer { _ = daemon.stop() }
        let filler = try fill(mountPoint)
        for round in 0..<3 { try batch(harness, "full-\(round)", 400) }
        try assertOutage(daemon, socket, harness, files: 3)

        // Space returns: it catches up by itself.
        XCTAssertEqual(unlink(filler), 0)
        // The events are counted as soon as they commit; the files leave new/ and the resumption is
        // logged right after, so all three are awaited together.
        try eventually(timeout: 60, "caught up after the disk was freed") {
            try harness.count("events") == 1_250 && harness.names(in: harness.new).isEmpty
                && daemon.log.contains("ingestion resumed")
        }

        XCTAssertEqual(harness.names(in: harness.rejected), [], "nothing rejected, nothing lost")
        print("disk full: 1,200 check-ins held in new/ while the store was full, then stored; 0 lost; 1 LOG_CRIT entry")
    }

    /// The state on ext4 (a loop device, `errors=remount-ro`) that the kernel turns read-only on an
    /// injected file-system error (the only way to make a file system with the store open read-only):
    /// the daemon keeps running, feeds the watchdog, logs once and keeps every file it cannot commit.
    func testAStoreTurnedReadOnlyByTheKernelLosesNothing() throws {
        guard getuid() == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: not root (loop devices needed); the read-only suite was NOT run")
        }
        for tool in ["losetup", "mkfs.ext4", "e2fsck"] where (try? runCommand(["which", tool]).status) != 0 {
            throw XCTSkip("SKIPPED LOUDLY: \(tool) not found; the read-only suite was NOT run")
        }
        let harness = try Harness()
        let image = harness.root + "/state.img"
        let mountPoint = harness.root + "/statefs"
        XCTAssertEqual(mkdir(mountPoint, 0o700), 0)
        XCTAssertEqual(try runCommand(["truncate", "-s", "32M", image]).status, 0)
        XCTAssertEqual(try runCommand(["mkfs.ext4", "-q", image]).status, 0)
        func mountImage() throws {
            let (status, output) = try runCommand(["mount", "-o", "loop,errors=remount-ro", image, mountPoint])
            guard status == 0 else { throw XCTSkip("SKIPPED LOUDLY: cannot mount a loop device (\(output))") }
            chmod(mountPoint, 0o700)
        }
        try mountImage()
        defer {
            _ = try? runCommand(["umount", "-l", mountPoint])
            withExtendedLifetime(harness) {}  // the harness removes its directory only after the unmount
        }
        let (daemon, socket) = try startOnStatefs(harness)
        defer { _ = daemon.stop() }

        // The kernel turns the file system read-only (as on a disk error).
        let device = try runCommand(["findmnt", "-n", "-o", "SOURCE", mountPoint]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try "1".write(
            toFile: "/sys/fs/ext4/\((device as NSString).lastPathComponent)/trigger_fs_error", atomically: false,
            encoding: .utf8)
        for round in 0..<2 { try batch(harness, "readonly-\(round)", 300) }
        try assertOutage(daemon, socket, harness, files: 2)

        // Every held check-in is still in new/, whole. (The repair cannot be part of the test: the
        // kernel's emergency read-only aborts ext4's journal, so e2fsck then drops the store's last
        // fsynced writes; a loss of the file system that no application can prevent.)
        XCTAssertEqual(daemon.stop(), 0)
        var held = 0
        for name in harness.names(in: harness.new) {
            held += try String(contentsOfFile: harness.new + "/" + name, encoding: .utf8).split(separator: "\n").count
        }
        XCTAssertEqual(held, 600, "every check-in the read-only store could not take is kept")
        XCTAssertEqual(harness.names(in: harness.rejected), [], "nothing rejected")
        print(
            "read-only store: 600 check-ins held whole in new/ while the kernel kept the store read-only; the daemon stayed up; 1 LOG_CRIT entry"
        )
    }

    /// The store full while the notifier has escalations to deliver: it stays up and feeds its
    /// watchdog, delivers nothing it cannot record, logs LOG_CRIT once, and once space returns
    /// delivers every escalation exactly once.
    func testTheNotifierOnAFullDiskDeliversEverythingOnceWhenSpaceReturns() throws {
        let harness = try Harness()
        let mountPoint = try mountTmpfs(harness, at: "statefs", size: "2m")
        let receiver = try WebhookReceiver(in: harness)
        let (daemon, _) = try startOnStatefs(harness, receiver: receiver)
        defer { _ = daemon.stop() }
        let expected = try NotifierTests.escalations(harness, clients: 3)
        let filler = try fill(mountPoint)

        let socket = try NotifySocket(path: harness.root + "/notifier.sock")
        let notifier = try harness.startNotifier(environment: [
            "NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000",
        ])
        defer { _ = notifier.stop() }
        try eventually("READY=1") { socket.assignments.contains("READY=1") }
        usleep(2_500_000)
        XCTAssertEqual(receiver.answered.count, 0, "nothing delivered that could not be recorded as claimed")
        assertRidesItOut(notifier, logsOnce: "the queue cannot be written", watchdog: socket)

        XCTAssertEqual(unlink(filler), 0)
        try eventually(timeout: 60, "every escalation delivered once space returned") {
            try harness.tasks().filter { expected.contains($0["id"] as? String ?? "") }
                .allSatisfy { $0["state"] as? String == "delivered" }
        }
        XCTAssertEqual(receiver.acceptedKeys.sorted(), expected.sorted(), "each escalation accepted exactly once")
        try eventually("the recovery logged") { notifier.log.contains("the queue is writable again") }
        print(
            "notifier on a full disk: 0 deliveries while full, 1 LOG_CRIT entry, watchdog fed; \(expected.count) of \(expected.count) escalations delivered once after"
        )
    }

    /// The spool's file system remounted read-only under the running daemon, with files in `new/`:
    /// they are stored (the store is elsewhere) but cannot be removed, so they stay; LOG_CRIT once,
    /// watchdog fed; once read-write again, the daemon clears them by itself, each stored once.
    func testASpoolTurnedReadOnlyKeepsItsFilesAndClearsThemWhenWritable() throws {
        let harness = try Harness()
        let mountPoint = try mountTmpfs(harness, at: "spool", size: "16m")
        let socket = try NotifySocket(path: harness.root + "/notify.sock")
        let daemon = try harness.startDaemon(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        defer { _ = daemon.stop() }
        try eventually("READY=1") { socket.assignments.contains("READY=1") }
        try batch(harness, "before", 50)
        try eventually("stored") { try harness.count("events") == 50 }

        // Files arrive while the daemon is stopped; the spool turns read-only before it reads them.
        daemon.signal(SIGSTOP)
        for round in 0..<3 { try batch(harness, "readonly-\(round)", 400) }
        for index in 0..<100 {
            try harness.drop(
                "single-\(index).json",
                checkIn(id: "single-\(index)", client: "c-\(index % 20)", at: ResponsePlanTests.time(-60)))
        }
        let (remounted, output) = try runCommand(["mount", "-o", "remount,ro", mountPoint])
        daemon.signal(SIGCONT)
        XCTAssertEqual(remounted, 0, "remount read-only: \(output)")
        try eventually("stored while read-only") { try harness.count("events") == 1_350 }
        usleep(1_000_000)
        XCTAssertEqual(harness.names(in: harness.new).count, 103, "the files it cannot remove stay in new/")
        assertRidesItOut(daemon, logsOnce: "the spool cannot be written", watchdog: socket)

        XCTAssertEqual(try runCommand(["mount", "-o", "remount,rw", mountPoint]).status, 0)
        try eventually(timeout: 60, "cleared after the remount read-write") { harness.names(in: harness.new).isEmpty }
        XCTAssertEqual(try harness.count("events"), 1_350, "each check-in stored once")
        // The recovery is logged after the pass that moved the files ends: wait for the line.
        try eventually("the recovery logged") { daemon.log.contains("the spool is writable again") }
        XCTAssertEqual(harness.names(in: harness.rejected), [], "nothing rejected, nothing lost")
        print(
            "read-only spool: 1,300 check-ins in 103 files stored while their files could not be removed; 1 LOG_CRIT entry; cleared by itself after the remount, each stored once"
        )
    }

    /// The spool's own file system full, with good and refused files in `new/`: the good ones are
    /// stored and removed (an unlink needs no space); the refused ones cannot be moved aside (their
    /// `.why` needs space), so they stay. LOG_CRIT once, across passes and a rescan, never "writable
    /// again" while that lasts; once space returns they are moved aside by themselves, each once.
    func testAFullSpoolLogsOnceAndMovesRefusedFilesAsideWhenSpaceReturns() throws {
        let harness = try Harness()
        let mountPoint = try mountTmpfs(harness, at: "spool", size: "1m")
        let daemon = try harness.startDaemon()
        defer { _ = daemon.stop() }
        try eventually("the spool prepared") { FileManager.default.fileExists(atPath: harness.spool + "/tmp") }
        try batch(harness, "before", 10)
        try eventually("stored") { try harness.count("events") == 10 }

        daemon.signal(SIGSTOP)
        // Each good file also has a hard link outside new/, so removing it frees no space: the file
        // system stays full while the daemon unlinks, as when other writers take what is freed.
        XCTAssertEqual(mkdir(mountPoint + "/keep", 0o700), 0)
        for index in 0..<20 {
            try harness.drop("good-\(index).json", checkIn(id: "good-\(index)", at: ResponsePlanTests.time(-60)))
            XCTAssertEqual(link(harness.new + "/good-\(index).json", mountPoint + "/keep/good-\(index).json"), 0)
        }
        for index in 0..<5 { try harness.drop("bad-\(index).json", "{") }
        let filler = try fill(mountPoint)
        daemon.signal(SIGCONT)
        try eventually("the good ones stored and removed") {
            try harness.count("events") == 30 && harness.names(in: harness.new).count == 5
        }
        usleep(11_000_000)  // past a rescan, which tries the refused files again
        XCTAssertEqual(harness.names(in: harness.new).sorted(), (0..<5).map { "bad-\($0).json" })
        assertRidesItOut(daemon, logsOnce: "the spool cannot be written")
        XCTAssertFalse(daemon.log.contains("the spool is writable again"), "the outage did not end with an unlink")

        XCTAssertEqual(unlink(filler), 0)
        try eventually(timeout: 30, "moved aside at the next rescan") { harness.names(in: harness.new).isEmpty }
        XCTAssertEqual(
            harness.names(in: harness.rejected).sorted(),
            (0..<5).flatMap { ["bad-\($0).json", "bad-\($0).json.why"] }.sorted(), "each once, with its reason")
        // The recovery is logged after the pass that moved the files ends: wait for the line.
        try eventually("the recovery logged") { daemon.log.contains("the spool is writable again") }
        XCTAssertEqual(try harness.count("events"), 30)
        print(
            "full spool: 20 stored and removed, 5 refused held in new/ while full (1 LOG_CRIT entry), then moved aside once each"
        )
    }

    /// Mounts a tmpfs of `size` at `ROOT/name` for the test (skipping loudly when not root or when
    /// mounting fails), unmounted at teardown before the harness removes its directory.
    func mountTmpfs(_ harness: Harness, at name: String, size: String) throws -> String {
        guard getuid() == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: not root (mount needed); the disk-full suite was NOT run")
        }
        let mountPoint = harness.root + "/" + name
        mkdir(mountPoint, 0o700)
        let (mounted, output) = try runCommand([
            "mount", "-t", "tmpfs", "-o", "size=\(size),mode=0700", "tmpfs", mountPoint,
        ])
        guard mounted == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: cannot mount a tmpfs (\(output)); the disk-full suite was NOT run")
        }
        addTeardownBlock {
            _ = try? runCommand(["umount", "-l", mountPoint])
            withExtendedLifetime(harness) {}
        }
        return mountPoint
    }

    /// Fills the file system at `mountPoint` with one file, whose path it returns.
    func fill(_ mountPoint: String) throws -> String {
        let filler = mountPoint + "/filler"
        guard FileManager.default.createFile(atPath: filler, contents: nil) else {
            throw HarnessError("cannot create \(filler)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        let chunk = Data(count: 64 * 1024)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        try handle.close()
        return filler
    }

    /// Starts the daemon on `ROOT/statefs` with a notify socket and a 400 ms watchdog; once READY=1,
    /// stores 50 check-ins (the store works before the fault).
    func startOnStatefs(_ harness: Harness, receiver: WebhookReceiver? = nil) throws -> (Harness.Daemon, NotifySocket) {
        if let receiver {
            try NotifierTests.configure(harness, receiver: receiver, state: "statefs")
        } else {
            try "spool: spool\nstate: statefs\nrules: \(Harness.repository)/Rules\n".write(
                toFile: harness.configPath, atomically: true, encoding: .utf8)
        }
        let socket = try NotifySocket(path: harness.root + "/notify.sock")
        let daemon = try harness.startDaemon(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        try eventually("READY=1") { socket.assignments.contains("READY=1") }
        try batch(harness, "before", 50)
        try eventually("stored") { try harness.count("events") == 50 }
        return (daemon, socket)
    }

    /// Drops a batch file of `count` routine check-ins named `NAME-N`.
    func batch(_ harness: Harness, _ name: String, _ count: Int) throws {
        let lines = (0..<count).map {
            checkIn(
                id: "\(name)-\($0)", client: "c-\($0 % 20)", at: ResponsePlanTests.time(-60),
                extra: #","measures":{"mood":5}"#)
        }
        try harness.drop(name + ".jsonl", lines.joined(separator: "\n") + "\n")
    }

    /// During an outage: the daemon runs, the `files` stay in new/, one LOG_CRIT, the watchdog fed.
    func assertOutage(_ daemon: Harness.Daemon, _ socket: NotifySocket, _ harness: Harness, files: Int) throws {
        usleep(2_500_000)
        XCTAssertEqual(harness.names(in: harness.new).count, files, "the files it cannot commit stay in new/")
        assertRidesItOut(daemon, logsOnce: "cannot commit check-ins", watchdog: socket)
    }

    /// During an outage: the process runs, has logged `phrase` (its LOG_CRIT) once, not once per
    /// retry or file, and, given its notify socket, keeps feeding its watchdog for a second.
    func assertRidesItOut(_ process: Harness.Daemon, logsOnce phrase: String, watchdog socket: NotifySocket? = nil) {
        XCTAssertTrue(process.process.isRunning, "it does not die when it cannot write")
        let outages = process.log.components(separatedBy: phrase).count - 1
        XCTAssertEqual(outages, 1, "LOG_CRIT once per outage:\n\(process.log.suffix(2000))")
        guard let socket else { return }
        let pingsBefore = socket.assignments.filter { $0 == "WATCHDOG=1" }.count
        usleep(1_000_000)
        XCTAssertGreaterThanOrEqual(
            socket.assignments.filter { $0 == "WATCHDOG=1" }.count - pingsBefore, 3, "the watchdog stays fed")
    }
}
