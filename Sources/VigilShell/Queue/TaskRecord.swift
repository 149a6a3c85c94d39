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
    /// The rules behind it, decoded from the stored JSON (none if that ever failed to decode).
    public var reasons: [TaskReason]
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
    /// Who took it ("I'm on it") and when; who resolved it, when a person did.
    public var takenBy: String?
    public var takenAt: Timestamp?
    public var actedBy: String?
    public var cancelReason: String?
    public var deadAt: Timestamp?
    /// What it carries of the client's recovery plan (nil: the client had none when it was planned).
    public var plan: PlanBrief?
    /// The alert's action links, action name → URL (set by the notifier when links are configured;
    /// never stored).
    public var actions: [String: String]?

    /// A fallback delivery of a dead escalation (routed to the fallback channel).
    public var isFallback: Bool { slot.hasPrefix(Self.fallbackPrefix) }
    package static let fallbackPrefix = "fallback:"
    package static let overduePrefix = "overdue:"

    /// From a row with every column of `tasks` (SQLite's, or PostgreSQL's read into a GRDB `Row`).
    package init(row: Row) {
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
        reasons = (try? JSONOutput.decoder.decode([TaskReason].self, from: Data((row["reasons"] as String).utf8))) ?? []
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
        takenBy = row["taken_by"]
        takenAt = time("taken_at")
        actedBy = row["acted_by"]
        cancelReason = row["cancel_reason"]
        deadAt = time("dead_at")
        plan = (row["plan"] as String?).flatMap {
            try? JSONOutput.decoder.decode(PlanBrief.self, from: Data($0.utf8))
        }
    }

    static func fetchAll(_ db: Database, where condition: String, arguments: StatementArguments = [])
        throws -> [TaskRecord]
    {
        try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE \(condition)", arguments: arguments).map(TaskRecord.init)
    }

    /// A member of the task's JSON: nil texts and times are written as `null`.
    public enum Member: Encodable, Sendable {
        case text(String?)
        case integer(Int)
        case number(Double)
        case reasons([TaskReason])
        case plan(PlanBrief?)

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .integer(let value): try container.encode(value)
            case .number(let value): try container.encode(value)
            case .reasons(let reasons): try container.encode(reasons)
            case .plan(let plan): try container.encode(plan)
            }
        }
    }

    /// The stable members of `vigil queue list --json` and `queue show --json` (documented in the README).
    public var members: [(key: String, value: Member)] {
        [
            ("id", .text(id)), ("client", .text(client)), ("kind", .text(kind.rawValue)),
            ("state", .text(state.rawValue)), ("tier", .text(tier.rawValue)), ("score", .number(score)),
            ("episode", .integer(episode)), ("slot", .text(slot)), ("route", .text(route)),
            ("instruction", .text(instruction)), ("reasons", .reasons(reasons)),
            ("created", .text(createdAt.description)),
            ("deliver_at", .text(deliverAt.description)), ("due", .text(due.description)),
            ("attempts", .integer(attempts)), ("contact_attempts", .integer(contactAttempts)), ("about", .text(about)),
            ("channel", .text(channel)), ("delivered_at", .text(deliveredAt?.description)),
            ("next_attempt", .text(state == .pending || state == .claimed ? nextAttemptAt.description : nil)),
            ("last_error", .text(lastError)), ("resolved_at", .text(resolvedAt?.description)),
            ("resolved_by", .text(resolvedBy)), ("acted_by", .text(actedBy)), ("taken_by", .text(takenBy)),
            ("taken_at", .text(takenAt?.description)), ("cancel_reason", .text(cancelReason)),
            ("dead_at", .text(deadAt?.description)), ("plan", .plan(plan)),
        ]
    }

    /// What a channel receives: the task, never the client's free-text note (tasks never hold it).
    /// Deterministic for a task and status, so a redelivery is byte-identical.
    public func payload(status: String) -> TaskPayload {
        TaskPayload(
            status: status, task: id, kind: kind.rawValue, client: client, tier: tier.rawValue, score: score,
            episode: episode, route: route, instruction: instruction, created: createdAt, due: due, reasons: reasons,
            about: about, plan: plan, actions: actions)
    }

    /// The plan's minimum in one line, for an alert's annotation and the journal: `none`, or `age 12d;
    /// pathway mutual_help, clinical; support sponsor dir-17 phone, family dir-3 text`.
    public var planLine: String {
        guard let plan else { return "none" }
        var parts = ["age \(plan.ageDays)d"]
        if !plan.pathway.isEmpty { parts.append("pathway " + plan.pathway.joined(separator: ", ")) }
        if !plan.support.isEmpty {
            parts.append("support " + plan.support.map { "\($0.role) \($0.ref) \($0.channel)" }.joined(separator: ", "))
        }
        return parts.joined(separator: "; ")
    }

    /// The action links in one line, for the journal: `take URL reached URL no_answer URL` ("" without).
    public var actionsLine: String {
        (actions ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: " ")
    }

    /// The reasons in one line: `rule (summary); …`.
    public var reasonsLine: String {
        reasons.map { "\($0.rule) (\($0.summary))" }.joined(separator: "; ")
    }
}

/// `vigil queue list/show --json`: the task's members, keys sorted by the writer.
extension TaskRecord: Encodable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for member in members { try container.encode(member.value, forKey: Key(stringValue: member.key)) }
    }
}

/// The JSON a channel receives for a task (webhook body, exec stdin): `{"version": 1, "status",
/// "task", "kind", "client", "tier", "score", "episode", "route", "instruction", "created", "due",
/// "reasons", "about", "plan"}` (`about` null when not set; `plan` null when the client had no recovery
/// plan, else `{"age_days", "pathway", "support": [{"role", "ref", "channel"}]}`), `actions` (null, or
/// the one-click links `{"take", "reached", "no_answer"}` when `api.public_url` is set), and for an
/// end announced, its `state` and when it `ended`.
public struct TaskPayload: Encodable, Sendable {
    var version = 1
    var status: String
    var task: String
    var kind: String
    var client: String
    var tier: String
    var score: Double
    var episode: Int
    var route: String
    var instruction: String
    var created: Timestamp
    var due: Timestamp
    var reasons: [TaskReason]
    @NullWhenAbsent var about: String?
    @NullWhenAbsent var plan: PlanBrief?
    @NullWhenAbsent var actions: [String: String]?
    var state: String?
    var ended: Timestamp?
}
