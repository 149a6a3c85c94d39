import VigilCore

/// Counts from the store for `vigil status` and the daemon's STATUS= line.
public struct StoreStatus: Equatable, Sendable {
    public var events: Int
    public var clients: Int
    public var rejected: Int
    public var lastIngest: Timestamp?

    public init(events: Int, clients: Int, rejected: Int, lastIngest: Timestamp?) {
        self.events = events
        self.clients = clients
        self.rejected = rejected
        self.lastIngest = lastIngest
    }

    /// The queries behind each count, the same on SQLite and PostgreSQL.
    package static let eventsSQL = "SELECT count(*) FROM events"
    package static let clientsSQL = "SELECT count(*) FROM clients"
    package static let rejectedSQL = "SELECT count(*) FROM rejections"
    package static let lastIngestSQL = "SELECT ingested_at FROM events ORDER BY seq DESC LIMIT 1"
}

extension StoreStatus {
    /// The counts (see `StoreViews.status`), read through `session`.
    package static func read(session: some StoreSession) throws -> StoreStatus {
        func count(_ sql: String) throws -> Int { Int(try session.fetchOne(sql) { $0.int64(0) } ?? 0) }
        return StoreStatus(
            events: try count(eventsSQL), clients: try count(clientsSQL), rejected: try count(rejectedSQL),
            lastIngest: try session.fetchOne(lastIngestSQL) { Timestamp(microseconds: $0.int64(0)) })
    }
}
