import Glibc
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
