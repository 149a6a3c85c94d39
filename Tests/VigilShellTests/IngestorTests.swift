import Glibc
import Logging
import Synchronization
import VigilCore
import XCTest

@testable import VigilShell

/// The ingest loop's pieces on a real spool and store in a temporary directory.
final class IngestorTests: XCTestCase {
    /// An ingestor on `ROOT/spool` and `ROOT/vigil.sqlite`, with the shipped vocabulary.
    func ingestor(in scratch: Scratch, stages: [any CommitStage] = [ClientIndex()]) throws -> Ingestor {
        let spool = try SpoolDirectory(root: scratch.path + "/spool").open()
        let store = try EventStore(path: scratch.path + "/vigil.sqlite", stages: stages)
        let vocabulary = try VocabularyFile.load(rulesDirectory: Scratch.repository + "/Rules")
        var logger = Logger(label: "vigil.test")
        logger.logLevel = .critical
        return Ingestor(spool: spool, store: store, vocabulary: vocabulary, clock: SystemClock(), logger: logger)
    }

    /// Dates the spool file `name` ten seconds back, so the reader takes it as finished at once
    /// (a file written within the coarse clock's tick is read again later: `SpoolReaderTests`).
    @discardableResult
    func settled(_ name: String, in ingestor: Ingestor) -> String {
        var times = [timespec(), timespec()]
        clock_gettime(CLOCK_REALTIME, &times[0])
        times[0].tv_sec -= 10
        times[1] = times[0]
        XCTAssertEqual(utimensat(ingestor.spool.new.fd, name, &times, 0), 0)
        return name
    }

    func testChunksAreBoundedInFilesAndInBatchesAndCoverEveryEntryInOrder() throws {
        let scratch = try Scratch()
        let ingestor = try ingestor(in: scratch)
        ingestor.chunkSize = 4
        ingestor.batchesPerChunk = 2
        let names = ["a.json", "b.jsonl", "c.json", "d.jsonl", "e.jsonl", "f.json", "g.json", "h.json", "i.json"]
        let entries = names.map { SpoolDirectory.Entry(name: $0, type: UInt8(DT_REG)) }
        var chunks: [[String]] = []
        var start = 0
        while start < entries.count {
            let chunk = ingestor.nextChunk(of: entries, from: start)
            chunks.append(chunk.map(\.name))
            start += chunk.count
        }
        XCTAssertEqual(
            chunks,
            [["a.json", "b.jsonl", "c.json", "d.jsonl"], ["e.jsonl", "f.json", "g.json", "h.json"], ["i.json"]])
        ingestor.chunkSize = 10
        XCTAssertEqual(
            ingestor.nextChunk(of: entries, from: 0).map(\.name), ["a.json", "b.jsonl", "c.json", "d.jsonl"],
            "the second batch ends the chunk")
    }

    func testSlicesGrowTowardTheTargetAndShrinkOnlyWhenFarOverIt() {
        let second = TimeSpan.seconds(1)
        XCTAssertEqual(
            Ingestor.nextSlice(after: 0, took: 5, current: 700, target: second), 700, "nothing to learn from")
        XCTAssertEqual(
            Ingestor.nextSlice(after: 1_000, took: 250_000, current: 1_000, target: second), 4_000, "at the pace")
        XCTAssertEqual(
            Ingestor.nextSlice(after: 1_000, took: 1_500_000, current: 1_000, target: second), 1_000,
            "a little over: kept (a slow fsync is a fixed cost)")
        XCTAssertEqual(
            Ingestor.nextSlice(after: 1_000, took: 10_000_000, current: 1_000, target: second), 500, "halved at most")
        XCTAssertEqual(
            Ingestor.nextSlice(after: 150, took: 60_000_000, current: 150, target: second), 100, "never below 100")
    }

    func testADrainStoresCommitsRefusesAndRecognisesAResubmission() throws {
        let scratch = try Scratch()
        let ingestor = try ingestor(in: scratch)
        let writer = try SpoolWriter(spool: ingestor.spool.layout)
        let now = SystemClock().now()
        let good = #"{"id":"a","client":"c-1","at":"\#(now)","kind":"checkin","source":"peer"}"#
        let bad = #"{"id":"b","client":"c-1","at":"\#(now)","kind":"teleport","source":"peer"}"#
        try settled(writer.write(Array(good.utf8), extension: "json", now: now), in: ingestor)
        let refused = try settled(writer.write(Array(bad.utf8), extension: "json", now: now), in: ingestor)
        let first = try ingestor.drain()
        XCTAssertEqual(first.stored, 1)
        XCTAssertEqual(first.rejectedFiles, 1)
        XCTAssertEqual(try ingestor.spool.pendingEntries().map(\.name), [], "new/ is empty")
        XCTAssertTrue(ingestor.spool.rejected.contains(refused))
        XCTAssertTrue(ingestor.spool.rejected.contains(refused + ".why"))

        try settled(writer.write(Array(good.utf8), extension: "json", now: now), in: ingestor)
        let second = try ingestor.drain()
        XCTAssertEqual(second.stored, 0)
        XCTAssertEqual(second.duplicates, 1, "the same content under another name is a duplicate, not a new event")
        XCTAssertEqual(try (ingestor.store as? EventStore)?.status().events, 1)
    }
}

extension IngestorTests {
    /// Writes `count` settled check-ins of one client, one file each.
    func writeCheckIns(_ count: Int, into ingestor: Ingestor) throws {
        let writer = try SpoolWriter(spool: ingestor.spool.layout)
        let now = SystemClock().now()
        for index in 0..<count {
            let checkIn = #"{"id":"e\#(index)","client":"c-1","at":"\#(now)","kind":"checkin","source":"peer"}"#
            try settled(writer.write(Array(checkIn.utf8), extension: "json", now: now), in: ingestor)
        }
    }

    /// A chunk's files are unlinked while the next chunk commits: by the time `drain()` returns,
    /// every chunk's are gone and counted, the last one's too.
    func testADrainOfManyChunksUnlinksAndCountsEveryStoredFileBeforeItReturns() throws {
        let scratch = try Scratch()
        let ingestor = try ingestor(in: scratch)
        ingestor.chunkSize = 2
        try writeCheckIns(5, into: ingestor)
        let tally = try ingestor.drain()
        XCTAssertEqual(tally.stored, 5)
        XCTAssertEqual(tally.filesDone, 5, "every chunk's unlinks counted, the last one's included")
        XCTAssertEqual(try ingestor.spool.pendingEntries().map(\.name), [], "new/ is empty")
    }

    /// When a commit fails, its chunk's files and the later ones are kept in `new/` for the next
    /// try (none is unlinked before its commit), and the chunk committed before it is cleared.
    func testAFailedCommitKeepsItsFilesAndStillClearsTheChunksCommittedBefore() throws {
        let scratch = try Scratch()
        let ingestor = try ingestor(in: scratch, stages: [ClientIndex(), FailingCommits(succeeding: 1)])
        ingestor.chunkSize = 2
        try writeCheckIns(5, into: ingestor)
        XCTAssertThrowsError(try ingestor.drain(), "the second commit fails")
        XCTAssertEqual(try ingestor.spool.pendingEntries().count, 3, "the first chunk's two files are gone")
        XCTAssertEqual(try (ingestor.store as? EventStore)?.status().events, 2)
    }
}

/// A commit stage that lets the first `succeeding` commits through and fails every later one.
private final class FailingCommits: CommitStage {
    let succeeding: Int
    let commits = Atomic<Int>(0)

    init(succeeding: Int) { self.succeeding = succeeding }

    func apply(_ events: [StoredEvent], started: Void, context: CommitContext, session: some StoreSession) throws {
        guard commits.wrappingAdd(1, ordering: .relaxed).newValue > succeeding else { return }
        throw StoreError(path: "test", problem: "a commit made to fail")
    }
}
