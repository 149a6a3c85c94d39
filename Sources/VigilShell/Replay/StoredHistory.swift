import GRDB
import VigilCore

/// A stored check-in as the daemon met it: its sequence number and the time of the commit that
/// stored (and evaluated) it.
public struct HistoryEvent: Sendable {
    public var seq: Int64
    public var committedAt: Timestamp
    public var checkIn: CheckIn

    public init(seq: Int64, committedAt: Timestamp, checkIn: CheckIn) {
        self.seq = seq
        self.committedAt = committedAt
        self.checkIn = checkIn
    }
}

/// The stored check-ins to replay, in the order the daemon committed them.
public struct StoredHistory: Sendable {
    public var events: [HistoryEvent]
    /// Stored bodies that no longer decode (skipped).
    public var undecodable: Int
}

extension EventStore {
    /// Every stored check-in (of `client` only, if given) observed no later than `end`, in commit
    /// order (sequence numbers). Read in one snapshot; the note is decoded but never output.
    public func history(client: String?, through end: Timestamp?) throws(StoreError) -> StoredHistory {
        try read { db in
            var history = StoredHistory(events: [], undecodable: 0)
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT seq, ingested_at, body FROM events
                    WHERE (?1 IS NULL OR client = ?1) AND at <= ?2 ORDER BY seq
                    """,
                arguments: [client, (end ?? .distantFuture).microseconds])
            while let row = try rows.next() {
                guard let checkIn = CheckInDecoder.stored.decodeStored(row[2]) else {
                    history.undecodable += 1
                    continue
                }
                history.events.append(
                    HistoryEvent(seq: row[0], committedAt: Timestamp(microseconds: row[1]), checkIn: checkIn))
            }
            return history
        }
    }
}
