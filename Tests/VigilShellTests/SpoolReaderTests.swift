import Glibc
import XCTest

@testable import VigilShell

/// The reader's guard against files rewritten in place (see `SpoolReader.read`).
final class SpoolReaderTests: XCTestCase {
    func testAFileWrittenAroundTheReadIsReadAgainAndAnOlderOrFutureOneIsNot() {
        let tick = SpoolReader.tick
        let began: Int64 = 1_800_000_000_000_000_000
        let ended = began + 2 * tick
        func held(_ mtime: Int64) -> Bool { SpoolReader.writtenDuring(began: began, ended: ended, mtime: mtime) }
        XCTAssertTrue(held(began), "written in the tick the read began in")
        XCTAssertTrue(held(began - tick), "stamped a tick before, possibly still copying")
        XCTAssertTrue(held(ended + tick), "stamped a tick after the read ended (the coarse clock lags)")
        XCTAssertTrue(held(ended + 1_000_000_000), "up to a second: a tickless kernel's coarse clock lags more")
        XCTAssertFalse(held(began - tick - 1), "older: any write since would have changed it")
        XCTAssertFalse(held(ended + 1_000_000_001), "dated further in the future: not waited for")
        XCTAssertFalse(held(began + 1_000_000_000_000), "far in the future: never waited for")
    }

    func testTheTickIsTheCoarseClocksResolution() {
        var resolution = timespec()
        XCTAssertEqual(clock_getres(CLOCK_REALTIME_COARSE, &resolution), 0)
        XCTAssertEqual(SpoolReader.tick, Int64(resolution.tv_sec) * 1_000_000_000 + Int64(resolution.tv_nsec))
    }

    func testAFreshFileIsUnsettledAndAnOldOrFutureDatedOneIsRead() throws {
        let directory = NSTemporaryDirectory() + "spool-reader-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/a.json"
        let held = try HeldDirectory(directory)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("{}".utf8)))
        func read(mtime seconds: Int) -> String {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME_COARSE, &now)
            var times = [
                timespec(tv_sec: now.tv_sec + seconds, tv_nsec: now.tv_nsec),
                timespec(tv_sec: now.tv_sec + seconds, tv_nsec: now.tv_nsec),
            ]
            XCTAssertEqual(utimensat(AT_FDCWD, path, &times, 0), 0)
            switch SpoolReader.read(name: "a.json", in: held.fd) {
            case .file: return "file"
            case .unsettled: return "unsettled"
            default: return "other"
            }
        }
        XCTAssertEqual(read(mtime: 0), "unsettled", "modified now: read again once the tick has passed")
        XCTAssertEqual(read(mtime: -2), "file", "modified two seconds ago")
        XCTAssertEqual(read(mtime: 2), "file", "dated two seconds ahead: not waited for")
    }

    func testWhatIsNotASafeRegularCheckInFileIsRefusedWithoutBeingRead() throws {
        let scratch = try Scratch()
        let directory = try scratch.directory("new")
        let held = try HeldDirectory(directory)
        try scratch.file("new/target.json", "{}")
        XCTAssertEqual(symlink(directory + "/target.json", directory + "/link.json"), 0)
        XCTAssertEqual(mkfifo(directory + "/pipe.json", 0o600), 0)
        try scratch.file("new/shared.json", "{}", mode: 0o660)
        try scratch.file("new/notes.txt", "{}")
        func problem(_ name: String) -> String {
            guard case .refused(_, let problem, _) = SpoolReader.read(name: name, in: held.fd) else {
                return "not refused"
            }
            return problem
        }
        XCTAssertTrue(problem("link.json").contains("symbolic link"), problem("link.json"))
        XCTAssertTrue(problem("pipe.json").contains("not a regular file"), "a FIFO never blocks the reader")
        XCTAssertTrue(problem("shared.json").contains("writable by other writers"), problem("shared.json"))
        XCTAssertTrue(problem("notes.txt").contains("neither a .json nor a .jsonl"), problem("notes.txt"))
        guard case .skipped(_, nil) = SpoolReader.read(name: "vanished.json", in: held.fd) else {
            return XCTFail("a file gone before it is read is skipped quietly")
        }
    }
}
