import Glibc
import VigilCore
import XCTest

@testable import VigilShell

/// The daemon's store moves its write-ahead log into the database file on a connection of its own:
/// the writer's automatic checkpoint is off, so only the background checkpointer can fill the file.
final class WALCheckpointerTests: XCTestCase {
    let at = Timestamp(seconds: 1_767_225_600)

    /// `count` check-ins whose bodies take about two pages each.
    func events(_ count: Int, from start: Int) -> [PendingEvent] {
        (start..<start + count).map { index in
            let checkIn = CheckIn(
                id: "e-\(index)", client: "c-\(index % 7)", at: at, kind: .checkin, source: .peer,
                measures: [("mood", 3)])
            let body = #"{"id":"e-\#(index)","pad":"\#(String(repeating: "x", count: 6_000))"}"#
            return PendingEvent(checkIn: checkIn, digest: sha256Hex(Array(body.utf8)), body: body, origin: "a.jsonl")
        }
    }

    func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    func testTheLogIsCheckpointedOffTheCommitPathAndNothingIsLost() throws {
        let scratch = try Scratch()
        let path = scratch.path + "/vigil.sqlite"
        do {
            let store = try EventStore(path: path, checkpointInBackground: true)
            let before = size(path)
            for round in 0..<3 { _ = try store.commit(events(500, from: round * 500), at: at) }
            let checkpointer = try XCTUnwrap(store.checkpointer)
            checkpointer.drain()
            // 1,500 bodies of 6 KB: over 9 MB of pages, which only a checkpoint copies into the file.
            XCTAssertGreaterThan(size(path) - before, 8_000_000, "the background checkpoint filled the database file")
            XCTAssertEqual(try store.status().events, 1_500)
        }
        let reopened = try EventStore(readingFrom: path)
        XCTAssertEqual(try reopened.status().events, 1_500, "every committed check-in, after the store closed")
    }

    func testWithoutBackgroundCheckpointsSQLiteCheckpointsAsBefore() throws {
        let scratch = try Scratch()
        let path = scratch.path + "/vigil.sqlite"
        let store = try EventStore(path: path)
        XCTAssertNil(store.checkpointer)
        for round in 0..<3 { _ = try store.commit(events(500, from: round * 500), at: at) }
        XCTAssertGreaterThan(size(path), 8_000_000, "the writer's automatic checkpoint")
    }
}
