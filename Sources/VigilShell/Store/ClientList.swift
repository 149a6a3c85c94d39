import GRDB
import VigilCore

/// One line of `vigil client list`, the caseload: a client's tier, domains, open work, plan and
/// caring-contact program, and watch. Never free text. JSON keys are stable (documented in the
/// README): `client`, `tier`, `score`, `scored_at`, `episode_tier`, `domains`, `open_tasks`,
/// `next_due`, `plan_age_days`, `program`, `watch_until`.
public struct CaseloadLine: Encodable, Sendable {
    public var client: String
    /// The tier at the client's latest observation, or the open episode's when it holds higher.
    public var tier: String
    public var score: Double
    @NullWhenAbsent public var scoredAt: String?
    /// The open episode's tier (null: none open).
    @NullWhenAbsent public var episodeTier: String?
    /// The open episode's tier in each domain above low (`suicide=high overdose=moderate`).
    @NullWhenAbsent public var domains: String?
    public var openTasks: Int
    @NullWhenAbsent public var nextDue: String?
    /// Days since the recovery plan in force (null: no plan).
    @NullWhenAbsent public var planAgeDays: Int?
    /// `running (N remaining)`, `stopped`, `done` (null: never started).
    @NullWhenAbsent public var program: String?
    /// Until when the client is on the step-down watch, if it is now.
    @NullWhenAbsent public var watchUntil: String?

    enum CodingKeys: String, CodingKey {
        case client, tier, score
        case scoredAt = "scored_at"
        case episodeTier = "episode_tier"
        case domains
        case openTasks = "open_tasks"
        case nextDue = "next_due"
        case planAgeDays = "plan_age_days"
        case program
        case watchUntil = "watch_until"
    }
}

extension CaseloadLine {
    /// The caseload at `now` (see `StoreViews.caseload`), read through `session`: the same on both stores.
    package static func read(at now: Timestamp, minimum: Tier, watchOnly: Bool, session: some StoreSession) throws
        -> [CaseloadLine]
    {
        let rows = try session.rows(
            """
            SELECT c.id, c.tier, c.score, c.scored_at,
                (SELECT tier || ' ' || COALESCE(domains, '') FROM episodes e
                    WHERE e.client = c.id AND e.closed_at IS NULL ORDER BY e.number DESC LIMIT 1) AS episode,
                (SELECT COUNT(*) FROM tasks t WHERE t.client = c.id AND t.state IN \(TaskState.openList))
                    AS open_tasks,
                (SELECT MIN(due) FROM tasks t WHERE t.client = c.id AND t.state IN \(TaskState.openList))
                    AS next_due,
                (SELECT MAX(at) FROM events v WHERE v.client = c.id AND v.kind = 'plan' AND v.at <= ?)
                    AS plan_at,
                (SELECT MAX(watch_until) FROM episodes e WHERE e.client = c.id) AS watch_until,
                (SELECT CAST(number AS TEXT) || ' ' || CASE WHEN stopped_at IS NULL THEN '0' ELSE '1' END
                    FROM programs p WHERE p.client = c.id ORDER BY p.number DESC LIMIT 1) AS program
            FROM clients c
            """, [now.microseconds])
        var lines: [(line: CaseloadLine, rank: Tier, due: Int64)] = []
        for row in rows {
            let client: String = row["id"]
            let stored = (row["tier"] as String?).flatMap(Tier.init(rawValue:)) ?? .low
            let episode = (row["episode"] as String?).map {
                $0.split(separator: " ", maxSplits: 1).map(String.init)
            }
            let episodeTier = episode?.first.flatMap(Tier.init(rawValue:))
            let tier = max(stored, episodeTier ?? .low)
            let watch = (row["watch_until"] as Int64?).map(Timestamp.init(microseconds:)).flatMap {
                now < $0 ? $0 : nil
            }
            guard tier >= minimum, !watchOnly || watch != nil else { continue }
            let due = row["next_due"] as Int64?
            lines.append(
                (
                    CaseloadLine(
                        client: client, tier: tier.rawValue, score: ClientReport.rounded(row["score"] ?? 0),
                        scoredAt: (row["scored_at"] as Int64?).map { "\(Timestamp(microseconds: $0))" },
                        episodeTier: episodeTier?.rawValue,
                        domains: episode.flatMap { $0.count > 1 && !$0[1].isEmpty ? $0[1] : nil },
                        openTasks: row["open_tasks"], nextDue: due.map { "\(Timestamp(microseconds: $0))" },
                        planAgeDays: (row["plan_at"] as Int64?).map {
                            Int((now.microseconds - $0) / TimeSpan.days(1).microseconds)
                        },
                        program: try Self.programState(client: client, row["program"], session: session),
                        watchUntil: watch.map { "\($0)" }),
                    tier, due ?? .max
                ))
        }
        return lines.sorted { ($1.rank, $0.due, $0.line.client) < ($0.rank, $1.due, $1.line.client) }.map(
            \.line)
    }

    /// `running (N remaining)`, `stopped` or `done` for the client's latest program (`NUMBER STOPPED`).
    static func programState(client: String, _ latest: String?, session: some StoreSession) throws -> String? {
        guard let parts = latest?.split(separator: " "), parts.count == 2, let number = Int(parts[0]) else {
            return nil
        }
        if parts[1] == "1" { return "stopped" }
        let remaining =
            try session.fetchOne(
                """
                SELECT COUNT(*) FROM tasks WHERE client = ? AND kind = 'caring_contact' AND slot LIKE ?
                    AND state IN ('pending', 'claimed') AND delivered_at IS NULL
                """, client, CaringProgram.slotPattern(number)
            ) { $0.int64(0) } ?? 0
        return remaining > 0 ? "running (\(remaining) remaining)" : "done"
    }
}

extension CaringProgram {
    /// The SQL `LIKE` pattern of program `number`'s message slots.
    static func slotPattern(_ number: Int) -> String { "\(slotPrefix)\(number).%" }
}
