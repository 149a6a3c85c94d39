import GRDB
import VigilCore

/// Counts from the store for `vigil status` and the daemon's STATUS= line.
public struct StoreStatus: Equatable, Sendable {
    public var events: Int
    public var clients: Int
    public var rejected: Int
    public var lastIngest: Timestamp?
}

extension EventStore {
    public func status() throws(StoreError) -> StoreStatus {
        do {
            return try queue.read { db in
                StoreStatus(
                    events: try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0,
                    clients: try Int.fetchOne(db, sql: "SELECT count(*) FROM clients") ?? 0,
                    rejected: try Int.fetchOne(db, sql: "SELECT count(*) FROM rejections") ?? 0,
                    lastIngest: try Int64.fetchOne(
                        db, sql: "SELECT ingested_at FROM events ORDER BY seq DESC LIMIT 1"
                    ).map(Timestamp.init(microseconds:)))
            }
        } catch {
            throw StoreError(path: path, problem: "cannot read: \(error)")
        }
    }
}
