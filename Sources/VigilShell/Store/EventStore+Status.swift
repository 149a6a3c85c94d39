import GRDB
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

extension EventStore {
    public func status() throws(StoreError) -> StoreStatus {
        do {
            return try queue.read { db in
                StoreStatus(
                    events: try Int.fetchOne(db, sql: StoreStatus.eventsSQL) ?? 0,
                    clients: try Int.fetchOne(db, sql: StoreStatus.clientsSQL) ?? 0,
                    rejected: try Int.fetchOne(db, sql: StoreStatus.rejectedSQL) ?? 0,
                    lastIngest: try Int64.fetchOne(db, sql: StoreStatus.lastIngestSQL).map(
                        Timestamp.init(microseconds:)))
            }
        } catch {
            throw StoreError(path: path, problem: "cannot read: \(error)")
        }
    }
}
