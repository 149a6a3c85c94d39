import Foundation
import GRDB
import Glibc
import Logging
import VigilCore
import VigilShell

/// `vigil bench ingest`: how fast Vigil ingests durably, next to the file system's own floor.
///
/// Files are written the way a real writer writes them (created in `tmp/`, fsynced, renamed into
/// `new/`), untimed. Then (a) Vigil drains a spool of one check-in per `.json` file, and the floor
/// (list, open, read, close and unlink the same number of identical files, pipelined as Vigil
/// does: a chunk read while the one before is unlinked, each on as many threads as Vigil uses) is
/// timed on a second spool; (b) Vigil drains `.jsonl` batches of `batchSize` lines
/// from a dense caseload where every client rises, and its floor (`SQLiteFloor`) writes the same
/// rows into an empty store by a minimal bulk insert in transactions of the same size; (c) the same
/// with a realistic mix (90 % routine check-ins from a caseload ten times larger, 10 % rising);
/// (d) one dense client against as many clients. Vigil's side includes everything the daemon does
/// in the transaction: the rule pack is evaluated on every check-in, its firings and scores stored,
/// and each rise's tasks planned.
public struct IngestBench {
    public var directory: String
    public var files = 5_000
    public var batches = 50
    public var batchSize = 1_000
    public var rounds = 3
    /// Check-ins of (d): one client's in a single batch, against as many clients' (0: skip (d)).
    public var denseEvents = 10_000
    public var width = 2
    public var pack: RulePack
    public var progress: (String) -> Void
    /// Another store that (b) and (c) are also ingested into, timed the same way (`vigil bench
    /// ingest --store postgres`); nil: SQLite only.
    public var other: OtherStore?

    /// A store besides SQLite: `open` gives an empty one with the daemon's stages, and what to do
    /// once its ingest is done.
    public struct OtherStore {
        public var name: String
        public var open: (_ stages: [any CommitStage]) throws -> (store: any CheckInStore, finish: () -> Void)

        public init(
            name: String, open: @escaping ([any CommitStage]) throws -> (store: any CheckInStore, finish: () -> Void)
        ) {
            self.name = name
            self.open = open
        }
    }

    public init(directory: String, pack: RulePack, progress: @escaping (String) -> Void) {
        self.directory = directory
        self.pack = pack
        self.progress = progress
    }

    /// One round's figures, in seconds.
    public struct Round: Sendable {
        public var singleSeconds: Double
        public var floorSeconds: Double
        public var batchSeconds: Double
        /// (b)'s rows written by a minimal bulk insert (bound from memory), and copied by SQLite.
        public var batchFloorSeconds: Double
        public var batchCopySeconds: Double
        /// (c): the realistic mix, and its rows bulk inserted and copied.
        public var mixSeconds: Double
        public var mixFloorSeconds: Double
        public var mixCopySeconds: Double
        /// (d): one client's `denseEvents` check-ins, and as many clients' one each.
        public var denseSeconds: Double
        public var spreadSeconds: Double
        /// (b) and (c) into the other store, if any.
        public var otherBatchSeconds: Double?
        public var otherMixSeconds: Double?
    }

    /// The figures of every round.
    public struct Report: Sendable {
        public var rounds: [Round]
        public var files: Int
        public var batchEvents: Int
        public var width: Int

        /// Median of a column across rounds.
        public func median(_ column: (Round) -> Double) -> Double {
            let sorted = rounds.map(column).sorted()
            return sorted[sorted.count / 2]
        }

        /// Median of a column measured in every round; nil when it was not.
        public func measuredMedian(_ column: (Round) -> Double?) -> Double? {
            let measured = rounds.compactMap(column).sorted()
            guard !measured.isEmpty, measured.count == rounds.count else { return nil }
            return measured[measured.count / 2]
        }
    }

    public func run() throws -> Report {
        let root = directory + "/bench-\(getpid())"
        try DirectorySafety.create(root, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let clock = SystemClock()
        var results: [Round] = []
        for round in 1...rounds {
            let base = root + "/round-\(round)"
            // (a) single files, Vigil then floor.
            let vigilSpool = try spool(base + "/single")
            progress("round \(round)/\(rounds): writing \(files) check-in files (fsynced, untimed)")
            try writeSingles(into: vigilSpool, round: round, clock: clock)
            progress("round \(round)/\(rounds): Vigil ingesting \(files) files")
            let singleSeconds = try timedIngest(vigilSpool, database: base + "/single.sqlite", expecting: files)

            let floorSpool = try spool(base + "/floor")
            progress("round \(round)/\(rounds): writing \(files) identical files for the floor (untimed)")
            try writeSingles(into: floorSpool, round: round, clock: clock)
            progress("round \(round)/\(rounds): floor: open, read, unlink \(files) files")
            let (floorCount, floorSeconds) = try Self.time { try floor(floorSpool) }
            guard floorCount == files else { throw BenchError("the floor saw \(floorCount) of \(files) files") }

            // (b) batches of a dense caseload, every client rising; (c) a realistic mix. Each against
            // the same rows bulk inserted.
            var batchFigures: [(vigil: Double, floor: SQLiteFloor.Seconds, other: Double?)] = []
            for mix in [false, true] {
                let name = mix ? "mix" : "batch"
                let batchSpool = try spool(base + "/" + name)
                progress(
                    "round \(round)/\(rounds): writing \(batches) batches of \(batchSize) \(mix ? "mixed " : "")check-ins (untimed)"
                )
                try writeBatches(into: batchSpool, round: round, clock: clock, mix: mix)
                progress("round \(round)/\(rounds): Vigil ingesting \(batches * batchSize) check-ins in batches")
                let seconds = try timedIngest(
                    batchSpool, database: base + "/\(name).sqlite", expecting: batches * batchSize)
                progress("round \(round)/\(rounds): floor: bulk inserting the same rows, then copying them")
                let floor = try SQLiteFloor(
                    source: base + "/\(name).sqlite", boundTarget: base + "/\(name)-floor.sqlite",
                    copiedTarget: base + "/\(name)-copy.sqlite",
                    eventsPerTransaction: Ingestor.defaultBatchesPerChunk * batchSize
                ).run()
                var other: Double?
                if let store = self.other {
                    let otherSpool = try spool(base + "/\(name)-\(store.name)")
                    progress("round \(round)/\(rounds): writing the same batches again for \(store.name) (untimed)")
                    try writeBatches(into: otherSpool, round: round, clock: clock, mix: mix)
                    progress(
                        "round \(round)/\(rounds): Vigil ingesting \(batches * batchSize) check-ins into \(store.name)")
                    let (opened, finish) = try store.open(stages())
                    defer { finish() }
                    other = try timedIngest(otherSpool, into: opened, expecting: batches * batchSize)
                }
                batchFigures.append((seconds, floor, other))
            }

            // (d) one dense client against as many clients, each one batch.
            var denseSeconds = 0.0
            var spreadSeconds = 0.0
            if denseEvents > 0 {
                for (name, clients) in [("spread", denseEvents), ("dense", 1)] {
                    let spool = try spool(base + "/" + name)
                    progress(
                        "round \(round)/\(rounds): writing \(denseEvents) check-ins of \(clients) client(s) (untimed)")
                    let writer = try SpoolWriter(spool: spool)
                    let now = clock.now()
                    var bytes: [UInt8] = []
                    for index in 0..<denseEvents {
                        bytes += checkIn(
                            round: round, index: index, of: denseEvents, prefix: name, now: now, clients: clients)
                        bytes.append(0x0A)
                    }
                    try writer.write(bytes, extension: "jsonl", now: now)
                    progress(
                        "round \(round)/\(rounds): Vigil ingesting \(denseEvents) check-ins of \(clients) client(s)")
                    let seconds = try timedIngest(spool, database: base + "/\(name).sqlite", expecting: denseEvents)
                    if clients == 1 { denseSeconds = seconds } else { spreadSeconds = seconds }
                }
            }
            results.append(
                Round(
                    singleSeconds: singleSeconds, floorSeconds: floorSeconds, batchSeconds: batchFigures[0].vigil,
                    batchFloorSeconds: batchFigures[0].floor.bound, batchCopySeconds: batchFigures[0].floor.copied,
                    mixSeconds: batchFigures[1].vigil, mixFloorSeconds: batchFigures[1].floor.bound,
                    mixCopySeconds: batchFigures[1].floor.copied, denseSeconds: denseSeconds,
                    spreadSeconds: spreadSeconds,
                    otherBatchSeconds: batchFigures[0].other, otherMixSeconds: batchFigures[1].other))
            try? FileManager.default.removeItem(atPath: base)
        }
        return Report(rounds: results, files: files, batchEvents: batches * batchSize, width: width)
    }

    /// Times Vigil draining `spool` into a new store at `database`; checks every check-in was stored.
    func timedIngest(_ spool: SpoolDirectory, database: String, expecting expected: Int) throws -> Double {
        try timedIngest(
            spool, into: try EventStore(path: database, stages: stages(), checkpointsAside: true), expecting: expected)
    }

    /// The daemon's commit stages for a new store.
    func stages() -> [any CommitStage] { [DecisionStage(pack: pack, logger: Self.quietLogger)] }

    /// Times Vigil draining `spool` into `store`; checks every check-in was stored.
    func timedIngest(_ spool: SpoolDirectory, into store: any CheckInStore, expecting expected: Int) throws -> Double {
        let ingestor = Ingestor(
            spool: try spool.open(), store: store, vocabulary: pack.vocabulary, clock: SystemClock(),
            logger: Self.quietLogger,
            width: width)
        let (tally, seconds) = try Self.time { try ingestor.drain() }
        guard tally.stored == expected else { throw BenchError("stored \(tally.stored) of \(expected) check-ins") }
        return seconds
    }

    /// The floor: discover every file, then, in chunks of Vigil's size, open, read and close a
    /// chunk's files on `width` threads while the previous chunk's are unlinked on `width` threads
    /// of their own: Vigil's pipeline (`Ingestor.drain`) without decoding or committing.
    func floor(_ spool: SpoolDirectory) throws -> Int {
        let names = try spool.pendingNames()
        let directory = spool.new
        var removed = 0
        var removing: Lanes<Bool>?
        var start = 0
        while start < names.count {
            let chunk = Array(names[start..<min(names.count, start + Ingestor.defaultChunkSize)])
            let read = Parallel.map(chunk.count, width: width) { index -> Bool in
                let fd = open(directory + "/" + chunk[index], O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { return false }
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                close(fd)
                return count > 0
            }
            if let previous = removing.take() { removed += previous.wait().filter { $0 }.count }
            removing = Lanes(chunk.count, width: width) { read[$0] && unlink(directory + "/" + chunk[$0]) == 0 }
            start += chunk.count
        }
        if let last = removing { removed += last.wait().filter { $0 }.count }
        return removed
    }

    func spool(_ path: String) throws -> SpoolDirectory {
        let spool = SpoolDirectory(root: path)
        _ = try spool.open()
        return spool
    }

    /// A realistic check-in of about 300 bytes; `index` varies client, measures and codes. Check-ins
    /// arrive in observation order, 10 s apart, spread over `clients` clients, each reporting a
    /// warning sign (so every client rises). In a `mix`, nine in ten are routine check-ins (good
    /// measures, no sign) of a caseload ten times larger, and one in ten is a rising client's.
    func checkIn(
        round: Int, index: Int, of total: Int, prefix: String, now: Timestamp, clients: Int = 500, mix: Bool = false
    ) -> [UInt8] {
        let signs = ["isolation", "hopelessness", "withdrawing_from_routines", "romanticizing_use"]
        let at = now.adding(.seconds(-10 * Int64(total - index)))
        let routine = mix && index % 10 != 0
        return SyntheticCheckIn(
            id: "\(prefix)-\(round)-\(index)", client: routine ? "r-\(index % (clients * 10))" : "c-\(index % clients)",
            at: at,
            measures: routine
                ? ["mood": 6 + index % 4, "craving": index % 3, "sleep_hours": 7 + index % 2]
                : ["mood": index % 11, "craving": index % 7, "sleep_hours": 4 + index % 6],
            signs: routine ? nil : [signs[index % signs.count]], protective: ["attending_meetings"],
            note: "benchmark check-in \(index); free text stays private"
        ).bytes
    }

    func writeSingles(into spool: SpoolDirectory, round: Int, clock: SystemClock) throws {
        var writer = try SpoolWriter(spool: spool)
        writer.syncDirectory = false
        let now = clock.now()
        for index in 0..<files {
            try writer.write(
                checkIn(round: round, index: index, of: files, prefix: "single", now: now), extension: "json",
                now: clock.now())
        }
        try writer.sync()
    }

    func writeBatches(into spool: SpoolDirectory, round: Int, clock: SystemClock, mix: Bool) throws {
        var writer = try SpoolWriter(spool: spool)
        writer.syncDirectory = false
        let now = clock.now()
        for batch in 0..<batches {
            var bytes: [UInt8] = []
            for line in 0..<batchSize {
                bytes += checkIn(
                    round: round, index: batch * batchSize + line, of: batches * batchSize, prefix: "batch", now: now,
                    mix: mix)
                bytes.append(0x0A)
            }
            try writer.write(bytes, extension: "jsonl", now: clock.now())
        }
        try writer.sync()
    }

    /// Times `body` after flushing the file system, so earlier untimed writes do not bleed into it.
    static func time<T>(_ body: () throws -> T) throws -> (T, Double) {
        sync()
        let start = SystemClock.monotonicMicroseconds()
        let result = try body()
        return (result, Double(SystemClock.monotonicMicroseconds() - start) / 1e6)
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "vigil.bench")
        logger.logLevel = .warning
        return logger
    }
}

/// A benchmark whose run did not do what it measures.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
