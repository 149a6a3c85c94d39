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
/// Stages run in order, once per commit, with the newly stored events (never duplicates) in spool order.
public protocol CommitStage: Sendable {
    func apply(_ events: [StoredEvent], context: CommitContext, session: some StoreSession) throws
}

/// Keeps the `clients` table: first and last event time and event count per client (one upsert per
/// client per commit).
public struct ClientIndex: CommitStage {
    public init() {}

    public func apply(_ events: [StoredEvent], context: CommitContext, session: some StoreSession) throws {
        var summaries: [String: (first: Int64, last: Int64, count: Int)] = [:]
        for event in events {
            let at = event.checkIn.at.microseconds
            summaries[event.checkIn.client, default: (at, at, 0)].first.formMin(at)
            summaries[event.checkIn.client]?.last.formMax(at)
            summaries[event.checkIn.client]?.count += 1
        }
        try session.runMany(
            """
            INSERT INTO clients(id, first_at, last_at, events) VALUES (?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET
                first_at = CASE WHEN excluded.first_at < clients.first_at THEN excluded.first_at
                    ELSE clients.first_at END,
                last_at = CASE WHEN excluded.last_at > clients.last_at THEN excluded.last_at
                    ELSE clients.last_at END,
                events = clients.events + excluded.events
            """,
            rows: summaries.sorted(by: { $0.key < $1.key }).map { client, summary in
                [client, summary.first, summary.last, Int64(summary.count)] as [(any SQLBindable)?]
            })
    }
}

extension Comparable {
    fileprivate mutating func formMin(_ other: Self) { self = Swift.min(self, other) }
    fileprivate mutating func formMax(_ other: Self) { self = Swift.max(self, other) }
}
