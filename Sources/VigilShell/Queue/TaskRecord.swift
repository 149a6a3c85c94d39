import Foundation
import GRDB
import VigilCore

/// One row of the task queue, as the notifier and `vigil queue` see it.
public struct TaskRecord: Sendable {
    public var seq: Int64
    public var id: String
    public var client: String
    public var episode: Int
    public var slot: String
    public var kind: TaskKind
    public var tier: Tier
    public var score: Double
    public var route: String
    public var instruction: String
    /// The firings behind it, as stored JSON (`[{"rule", "summary", "event", "at"}]`).
    public var reasonsJSON: String
    public var about: String?
    public var createdAt: Timestamp
    public var deliverAt: Timestamp
    public var due: Timestamp
    public var state: TaskState
    public var attempts: Int
    public var nextAttemptAt: Timestamp
    public var firstAttemptAt: Timestamp?
    public var leaseToken: String?
    public var channel: String?
    public var deliveredAt: Timestamp?
    public var lastError: String?
    public var contactAttempts: Int
    public var resolvedAt: Timestamp?
    public var resolvedBy: String?
    public var cancelReason: String?
    public var deadAt: Timestamp?

    /// A fallback delivery of a dead escalation (routed to the fallback channel).
    public var isFallback: Bool { slot.hasPrefix(Self.fallbackPrefix) }
    static let fallbackPrefix = "fallback:"
    static let overduePrefix = "overdue:"

    init(row: Row) {
        func time(_ column: String) -> Timestamp? { (row[column] as Int64?).map(Timestamp.init(microseconds:)) }
        seq = row["seq"]
        id = row["id"]
        client = row["client"]
        episode = row["episode"]
        slot = row["slot"]
        kind = TaskKind(rawValue: row["kind"]) ?? .escalation
        tier = Tier(rawValue: row["tier"]) ?? .high
        score = row["score"]
        route = row["route"]
        instruction = row["instruction"]
        reasonsJSON = row["reasons"]
        about = row["about"]
        createdAt = time("created_at") ?? Timestamp(microseconds: 0)
        deliverAt = time("deliver_at") ?? createdAt
        due = time("due") ?? createdAt
        state = TaskState(rawValue: row["state"]) ?? .pending
        attempts = row["attempts"]
        nextAttemptAt = time("next_attempt_at") ?? deliverAt
        firstAttemptAt = time("first_attempt_at")
        leaseToken = row["lease_token"]
        channel = row["channel"]
        deliveredAt = time("delivered_at")
        lastError = row["last_error"]
        contactAttempts = row["contact_attempts"]
        resolvedAt = time("resolved_at")
        resolvedBy = row["resolved_by"]
        cancelReason = row["cancel_reason"]
        deadAt = time("dead_at")
    }

    static func fetchAll(_ db: Database, where condition: String, arguments: StatementArguments = [])
        throws -> [TaskRecord]
    {
        try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE \(condition)", arguments: arguments).map(TaskRecord.init)
    }

    /// The firings behind it, decoded.
    public var reasons: [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(reasonsJSON.utf8))) as? [[String: Any]] ?? []
    }

    /// The stable JSON of `vigil queue list --json` and `queue show --json` (documented in the README).
    public var json: [String: Any] {
        var object: [String: Any] = [
            "id": id, "client": client, "kind": kind.rawValue, "state": state.rawValue, "tier": tier.rawValue,
            "score": score, "episode": episode, "slot": slot, "route": route, "instruction": instruction,
            "reasons": reasons, "created": createdAt.description, "deliver_at": deliverAt.description,
            "due": due.description, "attempts": attempts, "contact_attempts": contactAttempts,
        ]
        let optional: [(String, Any?)] = [
            ("about", about), ("channel", channel), ("delivered_at", deliveredAt?.description),
            ("next_attempt", state == .pending || state == .claimed ? nextAttemptAt.description : nil),
            ("last_error", lastError), ("resolved_at", resolvedAt?.description), ("resolved_by", resolvedBy),
            ("cancel_reason", cancelReason), ("dead_at", deadAt?.description),
        ]
        for (key, value) in optional { object[key] = value ?? NSNull() }
        return object
    }

    /// What a channel receives: the task, never the client's free-text note (tasks never hold it).
    /// Deterministic for a task and status, so a redelivery is byte-identical.
    public func payload(status: String) -> [String: Any] {
        [
            "version": 1, "status": status, "task": id, "kind": kind.rawValue, "client": client,
            "tier": tier.rawValue, "score": score, "episode": episode, "route": route, "instruction": instruction,
            "created": createdAt.description, "due": due.description, "reasons": reasons, "about": about ?? NSNull(),
        ]
    }

    /// The reasons in one line: `rule (summary); …`.
    public var reasonsLine: String {
        reasons.map { "\($0["rule"] as? String ?? "?") (\($0["summary"] as? String ?? ""))" }.joined(separator: "; ")
    }
}
