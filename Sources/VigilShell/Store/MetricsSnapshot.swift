import VigilCore

/// The store's figures behind `GET /metrics`, read in one transaction.
public struct MetricsSnapshot: Equatable, Sendable {
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

extension MetricsSnapshot {
    /// The figures at `now` (see `StoreViews.metrics`), read through `session`.
    package static func read(at now: Timestamp, session: some StoreSession) throws -> MetricsSnapshot {
        func count(_ sql: String) throws -> Int { Int(try session.fetchOne(sql) { $0.int64(0) } ?? 0) }
        var snapshot = MetricsSnapshot()
        snapshot.events = try count("SELECT count(*) FROM events")
        snapshot.rejected = try count("SELECT count(*) FROM rejections")
        snapshot.lastIngest = try session.fetchOne(StoreStatus.lastIngestSQL) { Timestamp(microseconds: $0.int64(0)) }
        for row in try session.rows("SELECT state, kind, count(*) AS n FROM tasks GROUP BY state, kind", []) {
            guard let state = TaskState(rawValue: row["state"]), let kind = TaskKind(rawValue: row["kind"]) else {
                continue
            }
            snapshot.tasks[state, default: [:]][kind] = row["n"]
        }
        snapshot.overdueOutreach = Int(
            try session.fetchOne(
                "SELECT count(*) FROM tasks WHERE state IN \(TaskState.openList) AND kind IN \(TaskKind.outreachList) AND due < ?",
                now.microseconds
            ) { $0.int64(0) } ?? 0)
        snapshot.oldestPendingEscalation = try session.rows(
            """
            SELECT min(deliver_at) AS oldest FROM tasks
            WHERE state IN ('pending', 'claimed') AND kind IN ('escalation', 'overdue') AND deliver_at <= ?
            """, [now.microseconds]
        ).first.flatMap { $0["oldest"] as Int64? }.map(Timestamp.init(microseconds:))
        for row in try session.rows(
            """
            SELECT channel, count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
                count(*) FILTER (WHERE state = 'dead') AS dead
            FROM tasks WHERE channel IS NOT NULL GROUP BY channel
            """, [])
        {
            let channel: String = row["channel"]
            snapshot.delivered[channel] = row["delivered"]
            snapshot.dead[channel] = row["dead"]
        }
        for row in try session.rows("SELECT tier, count(*) AS n FROM clients GROUP BY tier", []) {
            guard let tier = Tier(rawValue: (row["tier"] as String?) ?? "low") else { continue }
            snapshot.clientsByTier[tier, default: 0] += row["n"]
        }
        return snapshot
    }
}
