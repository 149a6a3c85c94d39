import GRDB
import VigilCore

/// A newly stored event, as the stages of a commit see it.
public struct StoredEvent: Sendable {
    public let seq: Int64
    public let checkIn: CheckIn
}

/// What every stage of one commit shares: the moment the batch is committed.
public struct CommitContext: Sendable {
    public let committedAt: Timestamp
}

/// Work done inside the transaction that stores an event, so that its effects are durable exactly
/// when the event is (the seam where rule evaluation and task enqueueing plug in).
///
/// Stages run in order, once per newly stored event (never for duplicates), in spool order.
public protocol CommitStage: Sendable {
    func apply(_ event: StoredEvent, context: CommitContext, db: Database) throws
}

/// Keeps the `clients` table: first and last event time and event count per client.
public struct ClientIndex: CommitStage {
    public init() {}

    public func apply(_ event: StoredEvent, context: CommitContext, db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO clients(id, first_at, last_at, events) VALUES (?, ?, ?, 1)
                ON CONFLICT(id) DO UPDATE SET
                    first_at = min(first_at, excluded.first_at),
                    last_at = max(last_at, excluded.last_at),
                    events = events + 1
                """)
        let at = event.checkIn.at.microseconds
        try statement.execute(arguments: [event.checkIn.client, at, at])
    }
}
