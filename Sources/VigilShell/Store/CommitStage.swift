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
        var summaries: [String: Summary] = [:]
        for event in events {
            let (client, at) = (event.checkIn.client, event.checkIn.at.microseconds)
            summaries[client, default: Summary(client: client, first: at, last: at, events: 0)].add(at)
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
            rows: summaries.values.sorted { $0.client < $1.client })
    }

    /// A client's events in a commit: the first and last times and how many, as its row's values.
    private struct Summary: SQLRow {
        let client: String
        var first: Int64
        var last: Int64
        var events: Int64

        mutating func add(_ at: Int64) {
            first = min(first, at)
            last = max(last, at)
            events += 1
        }

        var width: Int { 4 }

        func bind(to statement: inout some SessionStatement) {
            statement.bind(client)
            statement.bind(first)
            statement.bind(last)
            statement.bind(events)
        }
    }
}
