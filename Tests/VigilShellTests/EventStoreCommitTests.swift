import GRDB
import Glibc
import Logging
import VigilCore
import XCTest

@testable import VigilShell

/// Commits on a real SQLite file: each event stored exactly once, whatever is replayed.
final class EventStoreCommitTests: XCTestCase {
    let at = Timestamp(seconds: 1_767_225_600)

    func event(_ id: String, client: String = "c-1", mood: Double = 3, origin: String = "a.json") -> PendingEvent {
        let checkIn = CheckIn(id: id, client: client, at: at, kind: .checkin, source: .peer, measures: [("mood", mood)])
        let body = #"{"id":"\#(id)","client":"\#(client)","mood":\#(mood)}"#
        return PendingEvent(checkIn: checkIn, digest: sha256Hex(Array(body.utf8)), body: body, origin: origin)
    }

    func testAReplayIsADuplicateInTheSameCommitAndAfterAReopen() throws {
        let scratch = try Scratch()
        let path = scratch.path + "/vigil.sqlite"
        let first = try EventStore(path: path).commit([event("a"), event("a", origin: "again.json")], at: at)
        guard case .stored = first[0] else { return XCTFail("\(first)") }
        XCTAssertEqual(first[1], .duplicate, "the same content twice in one transaction")
        let reopened = try EventStore(path: path)
        XCTAssertEqual(try reopened.commit([event("a")], at: at), [.duplicate], "a crash's replay after a restart")
        XCTAssertEqual(try reopened.status().events, 1)
        XCTAssertEqual(try reopened.status().rejected, 0)
    }

    func testAReusedIdWithOtherContentIsAConflictAndRecordedAsARefusal() throws {
        let scratch = try Scratch()
        let store = try EventStore(path: scratch.path + "/vigil.sqlite")
        _ = try store.commit([event("a")], at: at)
        XCTAssertEqual(try store.commit([event("a", mood: 9, origin: "b.json")], at: at), [.conflict])
        let status = try store.status()
        XCTAssertEqual(status.events, 1, "the first content stays")
        XCTAssertEqual(status.rejected, 1)
    }

    func testAnIdIsTheClientsOwn() throws {
        let scratch = try Scratch()
        let store = try EventStore(path: scratch.path + "/vigil.sqlite")
        let outcomes = try store.commit([event("a"), event("a", client: "c-2", mood: 9)], at: at)
        XCTAssertEqual(outcomes.count, 2)
        for outcome in outcomes {
            guard case .stored = outcome else { return XCTFail("another client's id cannot squat: \(outcomes)") }
        }
        XCTAssertEqual(try store.status().clients, 2)
    }

    func testRejectionsCommitWithTheEventsAndOnceEach() throws {
        let scratch = try Scratch()
        let store = try EventStore(path: scratch.path + "/vigil.sqlite")
        let refusal = PendingRejection(origin: "x.json", digest: "d1", reasons: [Rejection(problem: "not JSON")])
        _ = try store.commit([event("a")], rejections: [refusal], at: at)
        _ = try store.commit([], rejections: [refusal], at: at)
        XCTAssertEqual(try store.status().rejected, 1, "the same file refused again is recorded once")
        XCTAssertEqual(try store.status().lastIngest, at)
    }

    /// The daemon's store copies its log back into the database on a connection of its own: SQLite's
    /// automatic checkpoint is off on the writer's connection, and the database file still grows
    /// once a commit has left more than 1,000 pages of log. Let go, the store leaves no log behind.
    /// (In this process that holds with either closing order of the two connections; the order
    /// itself, which left a log beside `vigil serve`'s store, is guarded by
    /// `HostileWriterTests.testAnEmptiedOrMissingStoreIsRefusedNotRecreated`, which fails with the
    /// checkpointing connection closed last.)
    func testTheDaemonsStoreCheckpointsItsLogAside() throws {
        let scratch = try Scratch()
        let path = scratch.path + "/vigil.sqlite"
        try fillTheLogPastTheThreshold(path)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: path + "-wal"), "the log was copied back and removed at close")
        XCTAssertEqual(try EventStore(path: path).status().events, 2_001)
        // Also when no checkpoint ran.
        let small = scratch.path + "/small.sqlite"
        _ = try EventStore(path: small, checkpointsAside: true).commit([event("one")], at: at)
        XCTAssertFalse(FileManager.default.fileExists(atPath: small + "-wal"), "no log left after a small commit")
        XCTAssertEqual(try EventStore(path: small).status().events, 1)
    }

    /// Commits 2,001 events to a daemon's store at `path`, checks its log was checkpointed aside,
    /// then lets the store go.
    private func fillTheLogPastTheThreshold(_ path: String) throws {
        let scratch = (path as NSString).deletingLastPathComponent
        let store = try EventStore(path: path, checkpointsAside: true)
        XCTAssertEqual(try store.queue.read { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") }, 0)
        XCTAssertEqual(
            try EventStore(path: scratch + "/other.sqlite").queue.read {
                try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint")
            }, 1_000, "SQLite's own, on another store")
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        let before = info.st_size
        // About 2,000 pages of log (a page per event): past the checkpointer's threshold.
        let filler = String(repeating: "x", count: 3_000)
        let events = (0..<2_000).map { index in
            let checkIn = CheckIn(id: "e\(index)", client: "c-\(index % 7)", at: at, kind: .checkin, source: .peer)
            let body = #"{"id":"e\#(index)","filler":"\#(filler)"}"#
            return PendingEvent(checkIn: checkIn, digest: sha256Hex(Array(body.utf8)), body: body, origin: "b.jsonl")
        }
        _ = try store.commit(events, at: at)
        let deadline = SystemClock.monotonicMicroseconds() + 20_000_000
        while stat(path, &info) == 0, info.st_size < before + 4_000_000,
            SystemClock.monotonicMicroseconds() < deadline
        {
            usleep(10_000)
        }
        XCTAssertGreaterThan(
            info.st_size, before + 4_000_000, "the log's pages were copied into the database")
        XCTAssertEqual(try store.status().events, 2_000)
        _ = try store.commit([event("last")], at: at)
    }

    /// A commit, decisions included, writes no temp file: SQLite's statement journals (each
    /// upsert's undo log) stay in memory, where on disk they would hold page images of check-ins,
    /// notes included. Watched with inotify on the directory SQLite is pointed to for temp files;
    /// the same kind of commit with `temp_store` set back to FILE creates files there, so the check
    /// can fail.
    func testACommitWritesNoTempFile() throws {
        let scratch = try Scratch()
        let temp = scratch.path + "/tmp"
        XCTAssertEqual(mkdir(temp, 0o700), 0)
        let pack = try RulePack.load(directory: Scratch.repository + "/Rules")
        var logger = Logger(label: "vigil.test")
        logger.logLevel = .critical
        let store = try EventStore(
            path: scratch.path + "/vigil.sqlite", stages: [DecisionStage(pack: pack, logger: logger)])
        try store.queue.inDatabase { try $0.execute(sql: "PRAGMA temp_store_directory = '\(temp)'") }
        defer { try? store.queue.inDatabase { try $0.execute(sql: "PRAGMA temp_store_directory = ''") } }
        let watch = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        XCTAssertGreaterThanOrEqual(watch, 0)
        defer { close(watch) }
        XCTAssertGreaterThanOrEqual(inotify_add_watch(watch, temp, UInt32(IN_CREATE)), 0)
        /// How many files were created in `temp` since the last call.
        func created() -> Int {
            var count = 0
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let length = buffer.withUnsafeMutableBytes { read(watch, $0.baseAddress, $0.count) }
                guard length > 0 else { return count }
                var offset = 0
                while offset < length {
                    let nameLength = buffer.withUnsafeBytes {
                        $0.load(fromByteOffset: offset + 12, as: UInt32.self)
                    }
                    count += 1
                    offset += 16 + Int(nameLength)
                }
            }
        }
        // Rising clients in commits large enough for a statement's journal to pass SQLite's 64 KiB
        // (below that it stays in memory either way), as `vigil bench ingest` (b) commits them.
        let signs = ["isolation", "hopelessness", "withdrawing_from_routines", "romanticizing_use"]
        let events = try (0..<12_000).map { index in
            let body =
                #"{"id":"e\#(index)","client":"c-\#(index % 500)","at":"\#(at.adding(.seconds(Int64(index))))","#
                + #""kind":"checkin","source":"peer","measures":{"mood":\#(index % 11),"craving":\#(index % 7)},"#
                + #""signs":["\#(signs[index % 4])"],"note":"private"}"#
            let checkIn = try XCTUnwrap(CheckInDecoder.stored.decodeStored(body), body)
            return PendingEvent(checkIn: checkIn, digest: sha256Hex(Array(body.utf8)), body: body, origin: "b.jsonl")
        }
        for chunk in 0..<2 { _ = try store.commit(Array(events[chunk * 4_000..<(chunk + 1) * 4_000]), at: at) }
        XCTAssertEqual(created(), 0, "a commit created temp files")
        try store.queue.inDatabase { try $0.execute(sql: "PRAGMA temp_store = FILE") }
        _ = try store.commit(Array(events[8_000...]), at: at)
        XCTAssertGreaterThan(created(), 0, "with temp_store = FILE, the statement journals are files in \(temp)")
    }

    func testACreatedStoreWhoseFileIsGoneIsRefusedNotRecreatedEmpty() throws {
        let scratch = try Scratch()
        let path = scratch.path + "/vigil.sqlite"
        _ = try EventStore(path: path).commit([event("a")], at: at)
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        XCTAssertThrowsError(try EventStore(path: path)) { error in
            XCTAssertEqual((error as? StoreError)?.exitStatus, .config)
            XCTAssertTrue("\(error)".contains("the database is missing"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing was created in its place")
    }
}
