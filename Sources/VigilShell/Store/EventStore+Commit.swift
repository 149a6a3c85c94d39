import GRDB
import VigilCore

/// A validated check-in waiting to be committed.
public struct PendingEvent: Sendable {
    public let checkIn: CheckIn
    /// SHA-256 of `body`.
    public let digest: String
    /// The check-in's JSON text as received.
    public let body: String
    /// Where it came from: `NAME` or `NAME:LINE`.
    public let origin: String

    public init(checkIn: CheckIn, digest: String, body: String, origin: String) {
        self.checkIn = checkIn
        self.digest = digest
        self.body = body
        self.origin = origin
    }
}

/// A refusal to record in the same transaction as the batch's events.
public struct PendingRejection: Sendable {
    public let origin: String
    public let digest: String
    public let reasons: [Rejection]
    /// What the refused input may report: a crisis raises a supervisors' task in the same transaction.
    public let crisis: CrisisContent?

    public init(origin: String, digest: String, reasons: [Rejection], crisis: CrisisContent? = nil) {
        self.origin = origin
        self.digest = digest
        self.reasons = reasons
        self.crisis = crisis
    }
}

/// What committing one pending event did.
public enum CommitOutcome: Equatable, Sendable {
    /// Newly stored with this sequence number.
    case stored(Int64)
    /// The same id with the same content was already stored: a harmless replay.
    case duplicate
    /// The id is already stored with different content: the new one must be rejected.
    case conflict
}

extension EventStore {
    /// The reason recorded for a check-in whose id is already stored with other content.
    public static let conflictProblem =
        "id: already used by a different check-in of this client (same client and id, different content)"

    /// Commits a batch in one durable transaction: events (with every `CommitStage`) and rejections.
    /// Returns one outcome per event, in order. Throws `StoreError` (transient on a full or
    /// read-only disk) and then nothing was committed.
    public func commit(
        _ events: [PendingEvent], rejections: [PendingRejection] = [], at time: Timestamp
    ) throws(StoreError) -> [CommitOutcome] {
        let context = CommitContext(committedAt: time)
        do {
            return try queue.write { db in
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT INTO events(id, client, at, kind, source, digest, body, origin, ingested_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client, id) DO NOTHING
                        """)
                let existing = try db.cachedStatement(sql: "SELECT digest FROM events WHERE client = ? AND id = ?")
                let reject = try db.cachedStatement(
                    sql: """
                        INSERT INTO rejections(origin, digest, reasons, rejected_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT(origin, digest) DO NOTHING
                        """)
                var outcomes: [CommitOutcome] = []
                outcomes.reserveCapacity(events.count)
                var stored: [StoredEvent] = []
                stored.reserveCapacity(events.count)
                for event in events {
                    let checkIn = event.checkIn
                    var row = RawStatement(insert)
                    row.bind(checkIn.id)
                    row.bind(checkIn.client)
                    row.bind(checkIn.at.microseconds)
                    row.bind(checkIn.kind.rawValue)
                    row.bind(checkIn.source.rawValue)
                    row.bind(event.digest)
                    row.bind(event.body)
                    row.bind(event.origin)
                    row.bind(time.microseconds)
                    try row.step(db: db)
                    if RawStatement.changes(db) == 1 {
                        let seq = RawStatement.lastInsertedRowID(db)
                        stored.append(StoredEvent(seq: seq, checkIn: checkIn))
                        outcomes.append(.stored(seq))
                    } else {
                        let digest = try String.fetchOne(existing, arguments: [checkIn.client, checkIn.id])
                        if digest == event.digest {
                            outcomes.append(.duplicate)
                        } else {
                            outcomes.append(.conflict)
                            try reject.execute(arguments: [
                                event.origin, event.digest, Self.conflictProblem, time.microseconds,
                            ])
                            if let crisis = CrisisContent(checkIn) {
                                try Self.raise(crisis, digest: event.digest, at: time, db: db)
                            }
                        }
                    }
                }
                for stage in stages { try stage.apply(stored, context: context, db: db) }
                for rejection in rejections {
                    let reasons = rejection.reasons.map(\.description).joined(separator: "\n")
                    try reject.execute(arguments: [rejection.origin, rejection.digest, reasons, time.microseconds])
                    if let crisis = rejection.crisis {
                        try Self.raise(crisis, digest: rejection.digest, at: time, db: db)
                    }
                }
                return outcomes
            }
        } catch {
            throw Self.writeError(error, path: path)
        }
    }

    /// Enqueues the supervisors' task for refused input that reports a crisis (once per content).
    static func raise(_ crisis: CrisisContent, digest: String, at time: Timestamp, db: Database) throws {
        let task = crisis.supervisorTask(digest: digest, at: time)
        try TaskLedger.insert(task, score: 0, reasons: JSONOutput.text([TaskReason]()), about: nil, at: time, db: db)
    }

    /// Runs `body` in one durable write transaction (for work that is not a commit of events).
    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try queue.write(body)
        } catch {
            throw Self.writeError(error, path: path)
        }
    }

    /// Runs `body` in a read transaction (a consistent snapshot; never blocks writers).
    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try queue.read(body)
        } catch {
            throw StoreError(path: path, problem: "read failed: \(error)")
        }
    }

    /// A failed write as a `StoreError`, transient when waiting (for disk space, a remount) may help.
    static func writeError(_ error: any Error, path: String) -> StoreError {
        guard let error = error as? DatabaseError else {
            return StoreError(path: path, problem: "commit failed: \(error)")
        }
        let transient = [.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_BUSY, .SQLITE_CANTOPEN]
            .contains(error.resultCode)
        return StoreError(
            path: path, problem: "commit failed: \(error.message ?? "\(error.resultCode)")", isTransient: transient)
    }
}
