import GRDB
import VigilCore

/// A validated check-in waiting to be committed. Immutable, and a class: the decoder's verdict, the
/// chunk, a transaction's slice and its stages share one, where copying a struct would retain each
/// of its texts and lists (several per check-in, thousands per commit).
public final class PendingEvent: Sendable {
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

/// An event's row in `events`, as `StoreSession.insert(events:)` binds it: read from the pending
/// event in place (a row is one reference, however many columns it binds).
public struct EventRow: SQLRow {
    /// The insert of one row, skipping an event whose client and id are stored already.
    public static let insert = """
        INSERT INTO events(id, client, at, kind, source, digest, origin, ingested_at, body)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client, id) DO NOTHING
        """
    let event: PendingEvent
    let ingestedAt: Int64

    init(_ event: PendingEvent, ingestedAt: Timestamp) {
        self.event = event
        self.ingestedAt = ingestedAt.microseconds
    }

    public var id: String { event.checkIn.id }
    public var client: String { event.checkIn.client }
    public var width: Int { 9 }

    public func bind(to statement: inout some SessionStatement) {
        bindAllButBody(to: &statement)
        statement.bind(event.body)
    }

    /// Every parameter but the last, the body (which SQLite's insert binds without copying it).
    func bindAllButBody(to statement: inout some SessionStatement) {
        let checkIn = event.checkIn
        statement.bind(checkIn.id)
        statement.bind(checkIn.client)
        statement.bind(checkIn.at.microseconds)
        statement.bind(checkIn.kind.rawValue)
        statement.bind(checkIn.source.rawValue)
        statement.bind(event.digest)
        statement.bind(event.origin)
        statement.bind(ingestedAt)
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
        try write { db in
            try StoreCommit(stages: stages).run(events, rejections: rejections, at: time, session: SQLiteSession(db))
        }
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

/// The body of a commit, whichever the store: inside the caller's transaction, stores the new
/// events exactly once by (client, id), runs every `CommitStage` on those newly stored, and records
/// the refusals (a refused crisis raises the supervisors' task in the same transaction).
package struct StoreCommit {
    let stages: [any CommitStage]

    package init(stages: [any CommitStage]) { self.stages = stages }

    package func run(
        _ events: [PendingEvent], rejections: [PendingRejection], at time: Timestamp, session: some StoreSession
    ) throws -> [CommitOutcome] {
        // A store that decides keeps its client index in the decisions' upsert: a `ClientIndex`
        // beside them would count every check-in twice.
        guard !(stages.contains { $0 is ClientIndex } && stages.contains { $0 is DecisionStage }) else {
            throw StoreError(path: "commit stages", problem: "ClientIndex and DecisionStage both keep the client index")
        }
        // Before any insert: on several nodes, a client's events are then numbered in the order
        // their transactions commit, and its evaluation sees every earlier one.
        try session.serialize(clients: events.map(\.checkIn.client))
        let context = CommitContext(committedAt: time)
        let started = try stages.map { try Self.start($0, events, context: context, session: session) }
        let numbers = try session.insert(events: events.map { EventRow($0, ingestedAt: time) })
        var outcomes: [CommitOutcome] = []
        outcomes.reserveCapacity(events.count)
        var stored: [StoredEvent] = []
        stored.reserveCapacity(events.count)
        for (index, seq) in numbers.enumerated() {
            if let seq {
                stored.append(StoredEvent(seq: seq, event: events[index], position: index))
                outcomes.append(.stored(seq))
                continue
            }
            // Stored already: an earlier commit's or this batch's own (a later one is a replay).
            let event = events[index]
            let checkIn = event.checkIn
            let digest = try session.fetchOne(
                "SELECT digest FROM events WHERE client = ? AND id = ?", checkIn.client, checkIn.id
            ) { $0.text(0) }
            if digest == event.digest {
                outcomes.append(.duplicate)
            } else {
                outcomes.append(.conflict)
                try reject(
                    origin: event.origin, digest: event.digest, reasons: EventStore.conflictProblem, at: time,
                    session: session)
                if let crisis = CrisisContent(checkIn) {
                    try Self.raise(crisis, digest: event.digest, at: time, session: session)
                }
            }
        }
        for apply in started { try apply(stored) }
        for rejection in rejections {
            let reasons = rejection.reasons.map(\.description).joined(separator: "\n")
            try reject(origin: rejection.origin, digest: rejection.digest, reasons: reasons, at: time, session: session)
            if let crisis = rejection.crisis {
                try Self.raise(crisis, digest: rejection.digest, at: time, session: session)
            }
        }
        return outcomes
    }

    /// Starts `stage` on the commit's events; returns what applies it once they are stored.
    private static func start<Stage: CommitStage, Session: StoreSession>(
        _ stage: Stage, _ pending: [PendingEvent], context: CommitContext, session: Session
    ) throws -> ([StoredEvent]) throws -> Void {
        let started = try stage.start(pending, context: context, session: session)
        return { try stage.apply($0, started: started, context: context, session: session) }
    }

    private func reject(
        origin: String, digest: String, reasons: String, at time: Timestamp, session: some StoreSession
    ) throws {
        try session.execute(
            """
            INSERT INTO rejections(origin, digest, reasons, rejected_at) VALUES (?, ?, ?, ?)
            ON CONFLICT(origin, digest) DO NOTHING
            """, origin, digest, reasons, time.microseconds)
    }

    /// Enqueues the supervisors' task for refused input that reports a crisis (once per content).
    static func raise(_ crisis: CrisisContent, digest: String, at time: Timestamp, session: some StoreSession) throws {
        let task = crisis.supervisorTask(digest: digest, at: time)
        if try TaskLedger.insert(
            task, score: 0, reasons: JSONOutput.text([TaskReason]()), about: nil, at: time, session: session)
        {
            try session.announceTaskDue()
        }
    }
}
