import GRDB
import VigilCore

/// The store's figures behind `GET /metrics`, read in one transaction.
public struct MetricsSnapshot: Sendable {
    public var events = 0
    public var rejected = 0
    public var lastIngest: Timestamp?
    /// Tasks by state and kind.
    public var tasks: [TaskState: [TaskKind: Int]] = [:]
    /// Open outreach tasks past their due time.
    public var overdueOutreach = 0
    /// When the oldest escalation still waiting for delivery (pending or claimed) was to be delivered.
    public var oldestPendingEscalation: Timestamp?
    /// Tasks delivered, and dead, by the channel they went to.
    public var delivered: [String: Int] = [:]
    public var dead: [String: Int] = [:]
    /// Clients by their current tier.
    public var clientsByTier: [Tier: Int] = [:]
}

extension EventStore {
    public func metrics(at now: Timestamp) throws(StoreError) -> MetricsSnapshot {
        do {
            return try queue.read { db in
                var snapshot = MetricsSnapshot()
                snapshot.events = try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0
                snapshot.rejected = try Int.fetchOne(db, sql: "SELECT count(*) FROM rejections") ?? 0
                snapshot.lastIngest = try Int64.fetchOne(
                    db, sql: "SELECT ingested_at FROM events ORDER BY seq DESC LIMIT 1"
                ).map(Timestamp.init(microseconds:))
                for row in try Row.fetchAll(
                    db, sql: "SELECT state, kind, count(*) AS n FROM tasks GROUP BY state, kind")
                {
                    guard let state = TaskState(rawValue: row["state"]), let kind = TaskKind(rawValue: row["kind"])
                    else {
                        continue
                    }
                    snapshot.tasks[state, default: [:]][kind] = row["n"]
                }
                snapshot.overdueOutreach =
                    try Int.fetchOne(
                        db,
                        sql:
                            "SELECT count(*) FROM tasks WHERE state IN \(TaskState.openList) AND kind IN \(TaskKind.outreachList) AND due < ?",
                        arguments: [now.microseconds]) ?? 0
                snapshot.oldestPendingEscalation = try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT min(deliver_at) FROM tasks
                        WHERE state IN ('pending', 'claimed') AND kind IN ('escalation', 'overdue') AND deliver_at <= ?
                        """, arguments: [now.microseconds]
                ).map(Timestamp.init(microseconds:))
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT channel, count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
                            count(*) FILTER (WHERE state = 'dead') AS dead
                        FROM tasks WHERE channel IS NOT NULL GROUP BY channel
                        """)
                {
                    let channel: String = row["channel"]
                    snapshot.delivered[channel] = row["delivered"]
                    snapshot.dead[channel] = row["dead"]
                }
                for row in try Row.fetchAll(db, sql: "SELECT tier, count(*) AS n FROM clients GROUP BY tier") {
                    guard let tier = Tier(rawValue: (row["tier"] as String?) ?? "low") else { continue }
                    snapshot.clientsByTier[tier, default: 0] += row["n"]
                }
                return snapshot
            }
        } catch {
            throw StoreError(path: path, problem: "cannot read: \(error)")
        }
    }
}
