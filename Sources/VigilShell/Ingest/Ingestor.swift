import Dispatch
import Glibc
import Logging
import VigilCore

/// Moves check-ins from the spool into the store, durably and exactly once.
///
/// For each chunk of `new/`: read the files (on `width` threads), validate them, commit every valid
/// check-in and every refusal in one transaction, and only then move what was refused to
/// `rejected/` and unlink what was committed (on threads of their own, while the next chunk commits).
/// A crash at any instant leaves each file either still in `new/` (it is ingested again and its
/// events are recognised as duplicates by id and content) or handled.
public final class Ingestor {
    public let spool: OpenSpool
    public let store: any CheckInStore
    var decoder: SpoolFileDecoder
    let rejector: SpoolRejector
    let clock: any WallClock
    let logger: Logger
    /// Threads used for the system-call-bound stages (reading and unlinking).
    public let width: Int
    /// Files per transaction.
    public var chunkSize = Ingestor.defaultChunkSize
    public static let defaultChunkSize = 1024
    /// `.jsonl` batch files per chunk.
    public var batchesPerChunk = Ingestor.defaultBatchesPerChunk
    public static let defaultBatchesPerChunk = 4
    /// The most check-ins one transaction commits; larger chunks take several (see `commit`).
    public var eventsPerTransaction = 20_000
    /// How long one transaction should take at most: the next one is sized from the pace of the
    /// last, so the watchdog is fed (and a stop is noticed) between slices of a long chunk, however
    /// costly its check-ins. The daemon shortens it to a quarter of its watchdog's ping interval.
    public var slice = TimeSpan.seconds(1)
    /// Check-ins in the next transaction (see `slice`).
    var sliceSize = 1_000
    /// Files that could not be handled (unlink or move failed); skipped until the next full rescan.
    var stuck: Set<String> = []
    /// The operation that found the spool unwritable (full, read-only, failing) and its error, while
    /// that lasts; logged once.
    var spoolOutage = OutageLatch<(operation: SpoolOperation, error: SystemError)>()
    /// How the spool's paths changed under the daemon, while they differ from what it opened; logged once.
    var layoutChange = OutageLatch<String>()
    /// While threads to unlink files cannot be created (a task limit reached): logged once.
    var laneShortage = OutageLatch<Int>()
    /// How often one drain reads unsettled files again, and how long it waits first: two ticks of
    /// the coarse clock (see `SpoolReader.read`), at least 5 ms.
    static let settleRounds = 3
    static let settleMicroseconds = UInt32(clamping: max(5_000, 2 * SpoolReader.tick / 1_000))

    public init(
        spool: OpenSpool, store: any CheckInStore, vocabulary: Vocabulary, clock: any WallClock, logger: Logger,
        width: Int = 2
    ) {
        self.spool = spool
        self.store = store
        self.decoder = SpoolFileDecoder(decoder: CheckInDecoder(vocabulary: vocabulary))
        self.rejector = SpoolRejector(spool: spool)
        self.clock = clock
        self.logger = logger
        self.width = width
    }

    /// Ingests `new/` until it is empty (or only holds stuck or skipped files), or `shouldStop()` says so
    /// between chunks. `shouldStop` is also called between the transactions of a large chunk (its answer
    /// is then ignored: the chunk in hand is finished), so the caller can feed a watchdog from it.
    /// While a chunk commits, the next one is read and validated on another thread, and the files of
    /// the one before are unlinked (`remove`); every removal is waited for before `drain` returns or
    /// throws.
    /// Throws when the store cannot commit; the files then stay in `new/`.
    public func drain(shouldStop: () -> Bool = { false }) throws(IngestError) -> IngestTally {
        var tally = IngestTally()
        var seen: Set<String> = []
        var unsettled: Set<String> = []
        var settleRounds = 0
        noticeLayoutChange()
        while !shouldStop() {
            let entries: [SpoolDirectory.Entry]
            do {
                entries = try spool.pendingEntries().filter { !stuck.contains($0.name) && !seen.contains($0.name) }
            } catch {
                throw IngestError.spool(error)
            }
            if entries.isEmpty {
                // Files that changed while read, or were written within a clock tick of the read:
                // read again once two ticks have passed, a few times; after that, the writer's next
                // inotify event or the periodic rescan brings them back.
                guard !unsettled.isEmpty, settleRounds < Self.settleRounds else { break }
                settleRounds += 1
                seen.subtract(unsettled)
                unsettled = []
                usleep(Self.settleMicroseconds)
                continue
            }
            var chunk = nextChunk(of: entries, from: 0)
            var start = chunk.count
            var prepared = prepare(chunk)
            // The last committed chunk's files, being unlinked while the next chunk commits.
            var removing: Removal?
            defer { if let removing { tally += complete(removing) } }
            while true {
                let next = start < entries.count ? nextChunk(of: entries, from: start) : []
                let prefetch = next.isEmpty ? nil : Background { [self] in prepare(next) }
                let handled: HandledChunk
                do {
                    handled = try commit(prepared, heartbeat: { _ = shouldStop() })
                } catch {
                    _ = prefetch?.wait()
                    throw error
                }
                if let previous = removing.take() { tally += complete(previous) }
                removing = remove(handled)
                seen.formUnion(chunk.map(\.name))
                for case .unsettled(let name) in prepared.verdicts {
                    unsettled.insert(name)
                    logger.log(
                        .debug, .spoolUnreadable,
                        "spool file changed while read, or too recently to tell; reading it again",
                        ["file": "\(name)"])
                }
                guard let prefetch else { break }
                if shouldStop() {
                    // The prefetched chunk is dropped (its files are still in new/), once it is done.
                    _ = prefetch.wait()
                    break
                }
                Parallel.release(consume prepared)
                prepared = prefetch.wait() ?? prepare(next)
                chunk = next
                start += next.count
            }
        }
        return tally
    }

    /// The entries of the next chunk: at most `chunkSize` files, of which at most `batchesPerChunk`
    /// are `.jsonl` batches (up to 16 MiB each), so a chunk's memory stays bounded.
    func nextChunk(of entries: [SpoolDirectory.Entry], from start: Int) -> [SpoolDirectory.Entry] {
        var chunk: [SpoolDirectory.Entry] = []
        var batches = 0
        var index = start
        while index < entries.count, chunk.count < chunkSize, batches < batchesPerChunk {
            if entries[index].name.hasSuffix(".jsonl") { batches += 1 }
            chunk.append(entries[index])
            index += 1
        }
        return chunk
    }

    /// Forgets stuck files so the next drain tries them again (called on the periodic rescan).
    public func retryStuck() { stuck.removeAll() }

    /// Validates check-ins against `vocabulary` from now on (a reload).
    public func use(vocabulary: Vocabulary) {
        decoder = SpoolFileDecoder(decoder: CheckInDecoder(vocabulary: vocabulary))
    }

    /// A chunk read and validated, ready to commit.
    struct PreparedChunk: Sendable {
        let verdicts: [FileVerdict]
        let events: [PendingEvent]
        let rejections: [PendingRejection]
        /// When it was validated (the future-time check) and when refusals are dated.
        let now: Timestamp
    }

    /// Reads and validates a chunk (on `width` threads); touches neither the store nor the spool.
    func prepare(_ chunk: [SpoolDirectory.Entry]) -> PreparedChunk {
        let directory = spool.new.fd
        let entries = Parallel.map(chunk.count, width: width) {
            SpoolReader.read(name: chunk[$0].name, in: directory, type: chunk[$0].type)
        }
        let now = clock.now()
        let decoder = self.decoder
        let verdicts = Parallel.map(entries.count, width: width) { decoder.verdict(for: entries[$0], now: now) }
        var events: [PendingEvent] = []
        var rejections: [PendingRejection] = []
        for verdict in verdicts {
            switch verdict {
            case .single(_, let event): events.append(event)
            case .batch(let name, let batchEvents, let refused):
                events += batchEvents
                rejections += refused.map {
                    PendingRejection(
                        origin: "\(name):\($0.number)", digest: sha256Hex($0.bytes), reasons: $0.reasons,
                        crisis: $0.crisis)
                }
            case .refused(let name, let digest, let reasons, let crisis):
                rejections.append(PendingRejection(origin: name, digest: digest, reasons: reasons, crisis: crisis))
            case .skipped, .unsettled: break
            }
        }
        return PreparedChunk(verdicts: verdicts, events: events, rejections: rejections, now: now)
    }

    /// Commits a prepared chunk in transactions of at most `eventsPerTransaction` check-ins, each
    /// sized to take about `slice` (calling `heartbeat` between them), then, once all of them are
    /// durable, moves aside its refused files and names the stored ones to unlink (`remove`).
    func commit(_ chunk: PreparedChunk, heartbeat: () -> Void) throws(IngestError) -> HandledChunk {
        for case .skipped(let name, let reason?) in chunk.verdicts {
            logger.log(
                .error, .spoolUnreadable, "spool file left for a later attempt",
                ["file": "\(name)", "error": "\(reason)"])
        }
        let events = chunk.events
        var outcomes: [CommitOutcome] = []
        outcomes.reserveCapacity(events.count)
        var start = 0
        repeat {
            let end = min(events.count, start + min(sliceSize, eventsPerTransaction))
            let last = end == events.count
            let began = SystemClock.monotonicMicroseconds()
            do {
                // The chunk whole when one transaction takes it (a slice would copy every check-in).
                let batch = start == 0 && last ? events : Array(events[start..<end])
                outcomes += try store.commit(batch, rejections: last ? chunk.rejections : [], at: chunk.now)
            } catch {
                throw IngestError.store(error)
            }
            sliceSize = Self.nextSlice(
                after: end - start, took: SystemClock.monotonicMicroseconds() - began, current: sliceSize,
                target: slice)
            if !last {
                logger.debug(
                    "a long chunk: committed a slice, the watchdog is fed before the next",
                    metadata: ["check_ins": "\(end - start)", "next_slice": "\(sliceSize)"])
                heartbeat()
            }
            start = end
        } while start < events.count
        return finish(chunk.verdicts, outcomes: outcomes, now: chunk.now)
    }

    /// The size of the next slice after one of `count` check-ins took `took` µs: grown toward the
    /// target's pace, shrunk (at most by half at a time) only when it ran over twice the target, so
    /// that a slow fsync, a fixed cost per transaction, does not shrink slices to nothing.
    static func nextSlice(after count: Int, took: Int64, current: Int, target: TimeSpan) -> Int {
        guard count > 0 else { return current }
        let paced = Int(clamping: Int64(count) * target.microseconds / max(1, took))
        if took > 2 * target.microseconds { return max(100, count / 2, paced) }
        return max(current, paced)
    }

    /// After the commit: move what is refused, count, and name the files to unlink.
    func finish(_ verdicts: [FileVerdict], outcomes: [CommitOutcome], now: Timestamp) -> HandledChunk {
        var pass = SpoolPass()
        var tally = IngestTally()
        var unlinkable: [String] = []
        var index = 0
        var movedAside = false
        for verdict in verdicts {
            switch verdict {
            case .single(let name, let event):
                let outcome = outcomes[index]
                index += 1
                count(outcome, event: event, into: &tally)
                if outcome == .conflict {
                    movedAside = true
                    if let crisis = CrisisContent(event.checkIn) {
                        logRefused(
                            crisis, origin: name, digest: event.digest, reasons: [Self.conflictReason(line: nil)])
                    }
                    reject(
                        name: name, reasons: [Self.conflictReason(line: nil)], lines: nil, now: now, tally: &tally,
                        pass: &pass)
                } else {
                    unlinkable.append(name)
                }
            case .batch(let name, let events, let refused):
                var bad = refused
                // By index: a check-in copied out of the array would be retained field by field.
                for offset in events.indices {
                    let outcome = outcomes[index + offset]
                    count(outcome, event: events[offset], into: &tally)
                    if outcome == .conflict {
                        let event = events[offset]
                        guard let line = Int(event.origin.split(separator: ":").last ?? "") else { continue }
                        bad.append(
                            RefusedLine(
                                number: line, bytes: Array(event.body.utf8), reasons: [Self.conflictReason(line: line)],
                                crisis: CrisisContent(event.checkIn)))
                    }
                }
                index += events.count
                for line in bad {
                    if let crisis = line.crisis {
                        logRefused(
                            crisis, origin: "\(name):\(line.number)", digest: sha256Hex(line.bytes),
                            reasons: line.reasons)
                    }
                }
                if bad.isEmpty {
                    unlinkable.append(name)
                } else {
                    movedAside = true
                    bad.sort { $0.number < $1.number }
                    reject(
                        name: name, reasons: bad.flatMap(\.reasons), lines: bad.map(\.bytes), now: now, tally: &tally,
                        pass: &pass)
                }
            case .refused(let name, let digest, let reasons, let crisis):
                movedAside = true
                if let crisis { logRefused(crisis, origin: name, digest: digest, reasons: reasons) }
                reject(name: name, reasons: reasons, lines: nil, now: now, tally: &tally, pass: &pass)
            case .skipped, .unsettled:
                break
            }
        }
        var rejectedSync: SystemError?
        if movedAside {
            do {
                try rejector.sync()
            } catch {
                rejectedSync = error
            }
        }
        return HandledChunk(tally: tally, unlinkable: unlinkable, pass: pass, rejectedSync: rejectedSync)
    }

    /// A committed chunk: what it counted and met so far, and its stored files, to unlink.
    struct HandledChunk {
        var tally: IngestTally
        let unlinkable: [String]
        var pass: SpoolPass
        /// Why `rejected/` could not be synced, recorded after the unlinks (a pass keeps the first
        /// failure of a full spool: an unlink's, as before, when both fail).
        let rejectedSync: SystemError?
    }

    /// A committed chunk whose stored files are being unlinked.
    struct Removal {
        var handled: HandledChunk
        let failures: Lanes<SystemError?>
    }

    /// Starts unlinking a committed chunk's stored files on `width` threads of their own: each
    /// unlink mostly waits for the file's blocks to be freed, which the next chunk's commit overlaps.
    func remove(_ handled: HandledChunk) -> Removal {
        let directory = spool.new
        let names = handled.unlinkable
        return Removal(
            handled: handled,
            failures: Lanes(names.count, width: width) { index -> SystemError? in
                do throws(SystemError) {
                    try directory.remove(names[index])
                    return nil
                } catch {
                    return error
                }
            })
    }

    /// Waits for a removal; counts the files unlinked, marks the others stuck, and settles the
    /// chunk's pass over the spool.
    func complete(_ removal: Removal) -> IngestTally {
        var (tally, pass) = (removal.handled.tally, removal.handled.pass)
        defer { settle(pass) }
        for (name, failure) in zip(removal.handled.unlinkable, removal.failures.wait()) {
            if let failure {
                stuck.insert(name)
                pass.failed(.remove, "cannot remove an ingested spool file", file: name, failure, logger: logger)
            } else {
                tally.filesDone += 1
                pass.succeeded.insert(.remove)
            }
        }
        if let error = removal.handled.rejectedSync {
            pass.failed(.moveAside, "cannot sync rejected/", file: nil, error, logger: logger)
        }
        let unstarted = removal.failures.unstarted.count
        if unstarted > 0 {
            if laneShortage.fail(unstarted) {
                logger.warning(
                    "cannot create threads to unlink ingested spool files (a task limit reached?): the ingest thread unlinks them, after the next commit",
                    metadata: ["threads_missing": "\(unstarted)"])
            }
        } else if !removal.handled.unlinkable.isEmpty, laneShortage.recover() != nil {
            logger.notice("threads to unlink ingested spool files can be created again")
        }
        return tally
    }

    func count(_ outcome: CommitOutcome, event: PendingEvent, into tally: inout IngestTally) {
        switch outcome {
        case .stored:
            tally.stored += 1
            logger.log(
                .debug, .checkInStored, "check-in stored",
                ["event": "\(event.checkIn.id)", "client": "\(event.checkIn.client)", "origin": "\(event.origin)"])
        case .duplicate:
            tally.duplicates += 1
        case .conflict:
            break
        }
    }

    func reject(
        name: String, reasons: [Rejection], lines: [[UInt8]]?, now: Timestamp, tally: inout IngestTally,
        pass: inout SpoolPass
    ) {
        do {
            let target: String
            if let lines {
                target = try rejector.rejectLines(name: name, lines: lines, reasons: reasons, at: now)
                tally.rejectedLines += lines.count
            } else {
                target = try rejector.rejectWhole(name: name, reasons: reasons, at: now)
                tally.rejectedFiles += 1
            }
            tally.filesDone += 1
            for reason in reasons.prefix(10) {
                var fields: Logger.Metadata = [
                    "file": "\(name)", "rejected_as": "\(target)", "reason": "\(reason.problem)",
                ]
                if let field = reason.field { fields["field"] = "\(field)" }
                if let line = reason.line { fields["line"] = "\(line)" }
                logger.log(.warning, .checkInRejected, "check-in rejected: \(reason.description)", fields)
            }
            pass.succeeded.insert(.moveAside)
        } catch {
            stuck.insert(name)
            pass.failed(.moveAside, "cannot move a refused file to rejected/", file: name, error, logger: logger)
        }
    }

    /// Logs (LOG_CRIT, once while it lasts) a spool whose paths no longer lead to the directories the
    /// daemon opened: a writer or an admin renamed `new/` or put a link in its place. Ingest goes on
    /// through the held descriptors, so nothing is read from or moved into where the paths now lead;
    /// writers that use the changed paths are not served until the layout is restored.
    func noticeLayoutChange() {
        if let change = spool.layoutChange() {
            guard layoutChange.fail(change) else { return }
            logger.log(
                .critical, .spoolLayoutChanged,
                "the spool's layout changed under the daemon: it goes on with the directories it opened; restore the layout and restart",
                ["problem": "\(change)", "spool": "\(spool.layout.root)"])
        } else if let previous = layoutChange.recover() {
            logger.log(
                .notice, .spoolRecovered, "the spool's layout is as opened again", ["previous_error": "\(previous)"])
        }
    }

    /// Ends a pass over a chunk's files: a full, read-only or failing spool fails every write alike,
    /// so it is logged at LOG_CRIT once per outage, not once per file. The outage ends only when the
    /// operation that failed succeeds again with nothing failing that way (on a full spool an unlink
    /// succeeds while moving a file aside, which writes its `.why`, does not).
    func settle(_ pass: SpoolPass) {
        if let (operation, message, file, error) = pass.exhausted {
            guard spoolOutage.fail((operation, error)) else { return }
            var fields: Logger.Metadata = ["error": "\(error)", "failed": "\(message)"]
            if let file { fields["file"] = "\(file)" }
            logger.log(
                .critical, .spoolUnwritable,
                "the spool cannot be written: stored check-ins stay in new/ and are read again until this clears",
                fields)
        } else if let outage = spoolOutage.problem, pass.succeeded.contains(outage.operation),
            let previous = spoolOutage.recover()
        {
            logger.log(.notice, .spoolRecovered, "the spool is writable again", ["previous_error": "\(previous.error)"])
        }
    }

    static func conflictReason(line: Int?) -> Rejection {
        Rejection(
            line: line, field: "id",
            problem: "already used by a different check-in of this client (same client and id, different content)")
    }

    /// LOG_CRIT for refused input that reports a crisis, naming the file and the supervisors' task
    /// the commit raised for it (see `CrisisContent`).
    func logRefused(_ crisis: CrisisContent, origin: String, digest: String, reasons: [Rejection]) {
        let task = crisis.supervisorTask(digest: digest, at: clock.now())
        logger.log(
            .critical, .refusedCrisis,
            "a check-in reporting \(crisis.report) was refused and not scored; the supervisors have a task for it",
            [
                "file": "\(origin)", "client": "\(task.client)", "task": "\(task.id)", "route": "\(task.route)",
                "reason": "\(reasons.map(\.description).joined(separator: "; "))",
            ])
    }
}

/// Why a drain stopped early.
public enum IngestError: Error, CustomStringConvertible {
    case spool(SystemError)
    case store(StoreError)

    public var description: String {
        switch self {
        case .spool(let error): return "spool: \(error)"
        case .store(let error): return "\(error)"
        }
    }

    /// Worth retrying later without operator action (disk full, read-only remount, busy).
    public var isTransient: Bool {
        switch self {
        case .spool(let error): return error.isResourceExhaustion
        case .store(let error): return error.isTransient
        }
    }
}

/// How the daemon clears a file from `new/`.
enum SpoolOperation {
    /// Unlinking a stored file.
    case remove
    /// Moving a refused file (or its refused lines) to `rejected/`, with its `.why`.
    case moveAside
}

/// What clearing one chunk's files from the spool met (see `Ingestor.settle`).
struct SpoolPass {
    /// The operations that cleared a file.
    var succeeded: Set<SpoolOperation> = []
    /// The first failure of a full, read-only or failing spool.
    var exhausted: (operation: SpoolOperation, message: String, file: String?, error: SystemError)?

    /// Records a failure: one of a full, read-only or failing spool is kept for `settle`; any other
    /// (a permission, a name) is about this file alone and logged now.
    mutating func failed(
        _ operation: SpoolOperation, _ message: String, file: String?, _ error: SystemError, logger: Logger
    ) {
        guard error.isResourceExhaustion else {
            var fields: Logger.Metadata = ["error": "\(error)"]
            if let file { fields["file"] = "\(file)" }
            logger.log(.error, .spoolUnreadable, "\(message)", fields)
            return
        }
        if exhausted == nil { exhausted = (operation, message, file, error) }
    }
}
