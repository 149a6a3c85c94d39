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

extension StoreViews {
    /// Every stored check-in (of `client` only, if given) observed no later than `end`, in commit
    /// order (sequence numbers). Read in one snapshot; the note is decoded but never output.
    public func history(client: String?, through end: Timestamp?) throws(StoreError) -> StoredHistory {
        try viewing("cannot read the history") { session in
            let through = (end ?? .distantFuture).microseconds
            let read = { (row: any SessionRow) -> HistoryEvent? in
                guard let body = row.text(2), let checkIn = CheckInDecoder.stored.decodeStored(body) else { return nil }
                return HistoryEvent(
                    seq: row.int64(0), committedAt: Timestamp(microseconds: row.int64(1)), checkIn: checkIn)
            }
            let found =
                try client.map {
                    try session.fetchAll(
                        "SELECT seq, ingested_at, body FROM events WHERE client = ? AND at <= ? ORDER BY seq", $0,
                        through, read: read)
                }
                ?? session.fetchAll(
                    "SELECT seq, ingested_at, body FROM events WHERE at <= ? ORDER BY seq", through, read: read)
            let events = found.compactMap { $0 }
            return StoredHistory(events: events, undecodable: found.count - events.count)
        }
    }
}
