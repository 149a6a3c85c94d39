import GRDB
import VigilCore

/// The task queue as the notifier works it, whichever store holds it: SQLite (`TaskQueue`, one
/// host) or PostgreSQL (`PostgresTaskQueue` in `VigilPostgres`, where notifiers on several hosts
/// share it). Every implementation keeps the same discipline: a claim takes a task under a fresh
/// lease token until `leaseUntil`, so no other notifier takes it meanwhile; an outcome is recorded
/// only under the lease that claimed it (a notifier whose lease ran out records nothing, and the
/// task is delivered again under the same id, the receivers' idempotency key); a dead escalation
/// enqueues its fallback in the same transaction. Errors are `StoreError`s, transient when waiting
/// (a full disk, a server restarting) may help.
public protocol DeliveryQueue: Sendable {
    /// Claims up to `limit` tasks due by `now` (escalations first, then queue order), never one in
    /// `inFlight`. `admit` is asked about each candidate in that order (see `ClaimAdmission`),
    /// looking at most `skipping` refused candidates past what the claim needs.
    func claim(
        dueBy now: Timestamp, leaseUntil: Timestamp, limit: Int, excluding inFlight: Set<String>, skipping: Int,
        admit: (ClaimCandidate) -> ClaimAdmission
    ) async throws(StoreError) -> [TaskRecord]

    /// Records a delivery under the task's lease; false when the lease was lost (then only a task
    /// resolved or cancelled meanwhile records where it went, so that its channel hears it ended).
    func delivered(_ task: TaskRecord, channel: String, at now: Timestamp, renewAt: Timestamp?)
        async throws(StoreError) -> Bool

    /// Records a failed attempt to be tried again at `next`; false when the lease was lost.
    func retry(_ task: TaskRecord, channel: String, error: String, next: Timestamp) async throws(StoreError) -> Bool

    /// Marks a task dead under its lease and, for an escalation, enqueues and returns its fallback.
    func dead(_ task: TaskRecord, channel: String, error: String, at now: Timestamp)
        async throws(StoreError) -> (recorded: Bool, fallback: String?)

    /// Raises the overdue escalations due by `now` (each outreach task at most once).
    func raiseOverdue(at now: Timestamp, grace: TimeSpan, route: String) async throws(StoreError) -> [PlannedTask]

    /// Tasks resolved or cancelled after delivery whose channel has not yet heard that they ended.
    func pendingNotices(limit: Int) async throws(StoreError) -> [TaskRecord]

    func noticeSent(_ id: String) async throws(StoreError)

    /// Delivered tasks whose alert must be re-sent by `now` to stay active (Alertmanager).
    func dueRenewals(at now: Timestamp, limit: Int) async throws(StoreError) -> [TaskRecord]

    func renewed(_ id: String, next: Timestamp) async throws(StoreError)
}

/// What a claim does with a candidate: takes it, leaves it pending, or stops looking (every
/// receiver is busy: nothing more could start now).
public enum ClaimAdmission: Sendable {
    case take, skip, stop
}

/// A task as a claim first reads it: what choosing its channel (and so its receiver) needs.
public struct ClaimCandidate: Sendable {
    public var id: String
    public var kind: TaskKind
    public var tier: Tier
    public var route: String
    public var isFallback: Bool

    /// From a row with the columns `id, kind, tier, route, slot`.
    package init(row: Row) {
        id = row["id"]
        kind = TaskKind(rawValue: row["kind"]) ?? .escalation
        tier = Tier(rawValue: row["tier"]) ?? .high
        route = row["route"]
        isFallback = (row["slot"] as String).hasPrefix(TaskRecord.fallbackPrefix)
    }
}
