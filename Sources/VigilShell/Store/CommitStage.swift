import VigilCore

/// A newly stored event, as the stages of a commit see it.
public struct StoredEvent: Sendable {
    public let seq: Int64
    /// The pending event it was (shared, not copied).
    let event: PendingEvent
    /// Its position among the commit's pending events (those `CommitStage.start` was given).
    public let position: Int

    /// The check-in, read in place.
    public var checkIn: CheckIn {
        _read { yield event.checkIn }
    }
}

/// What every stage of one commit shares: the moment the batch is committed.
public struct CommitContext: Sendable {
    public let committedAt: Timestamp
}

/// Work done inside the transaction that stores an event, so that its effects are durable exactly
/// when the event is (the seam where rule evaluation and task enqueueing plug in).
///
/// A commit runs each stage in two steps, in order: `start` before the batch's events are stored,
/// with all of them (duplicates included), for work that depends only on what was stored before
/// (a stage may read the store and start work on other threads); then `apply` once they are, with
/// the newly stored events (never duplicates) in spool order and what `start` returned.
public protocol CommitStage: Sendable {
    /// What `start` hands to `apply` (nothing, for a stage that only applies).
    associatedtype Started = Void

    func start(_ pending: [PendingEvent], context: CommitContext, session: some StoreSession) throws -> Started
    func apply(_ events: [StoredEvent], started: Started, context: CommitContext, session: some StoreSession) throws
}

extension CommitStage where Started == Void {
    public func start(_ pending: [PendingEvent], context: CommitContext, session: some StoreSession) {}
}

/// Keeps the `clients` table: first and last event time and event count per client (one upsert per
/// client per commit). A store that decides has no `ClientIndex`: `DecisionStage` writes the same
/// upsert, carrying each client's score (`ClientIndex.Entry`).
public struct ClientIndex: CommitStage {
    public init() {}

    public func apply(
        _ events: [StoredEvent], started: Void, context: CommitContext, session: some StoreSession
    ) throws {
        var entries: [String: Entry] = [:]
        for event in events {
            let (client, at) = (event.checkIn.client, event.checkIn.at.microseconds)
            entries[client, default: Entry(client: client, first: at, last: at, events: 0)].add(at)
        }
        try Self.write(entries.values.sorted { $0.client < $1.client }, session: session)
    }

    /// Adds each entry to its client's row (created with its first check-in).
    static func write(_ entries: [Entry], session: some StoreSession) throws {
        // The score is that of the client's latest observation (never moved back by a late check-in
        // observed earlier); the absence deadline is set by the entries that carry one.
        let newer =
            "excluded.scored_at IS NOT NULL AND (clients.scored_at IS NULL OR clients.scored_at <= excluded.scored_at)"
        for setsAbsenceDue in [false, true] {
            try session.runMany(
                """
                INSERT INTO clients(id, first_at, last_at, events, score, tier, scored_at, absence_due)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET
                    first_at = CASE WHEN excluded.first_at < clients.first_at THEN excluded.first_at
                        ELSE clients.first_at END,
                    last_at = CASE WHEN excluded.last_at > clients.last_at THEN excluded.last_at
                        ELSE clients.last_at END,
                    events = clients.events + excluded.events,
                    score = CASE WHEN \(newer) THEN excluded.score ELSE clients.score END,
                    tier = CASE WHEN \(newer) THEN excluded.tier ELSE clients.tier END,
                    scored_at = CASE WHEN \(newer) THEN excluded.scored_at ELSE clients.scored_at END
                    \(setsAbsenceDue ? ", absence_due = excluded.absence_due" : "")
                """,
                rows: entries.filter { $0.setsAbsenceDue == setsAbsenceDue })
        }
    }

    /// A client's check-ins in a commit (the first and last times and how many) and, when the
    /// commit decided, its latest score and its next absence deadline (kept unless `setsAbsenceDue`).
    struct Entry: SQLRow {
        let client: String
        var first: Int64
        var last: Int64
        var events: Int64
        var score: Double? = nil
        var tier: String? = nil
        var scoredAt: Int64? = nil
        var setsAbsenceDue = false
        var absenceDue: Int64? = nil

        mutating func add(_ at: Int64) {
            first = min(first, at)
            last = max(last, at)
            events += 1
        }

        var width: Int { 8 }

        func bind(to statement: inout some SessionStatement) {
            statement.bind(client)
            statement.bind(first)
            statement.bind(last)
            statement.bind(events)
            statement.bind(score)
            statement.bind(tier)
            statement.bind(scoredAt)
            statement.bind(absenceDue)
        }
    }
}
