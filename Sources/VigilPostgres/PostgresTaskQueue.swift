import Foundation
import GRDB
import Logging
import PostgresNIO
import VigilCore
import VigilShell

/// The task queue on PostgreSQL, shared by the notifiers of several hosts. The same states,
/// leases and conditions as the SQLite queue (`TaskQueue`, whose query conditions it reuses); what
/// differs is how two notifiers stay out of each other's way:
/// - a claim reads the due candidates, lets the notifier choose among them, then takes the chosen
///   ones with `FOR UPDATE SKIP LOCKED`, checking again that each is still due: a task another
///   notifier is claiming (locked) or has claimed (its lease moved `next_attempt_at` on) is left
///   to it, so a task is claimed by one notifier at a time;
/// - overdue escalations are raised on rows locked the same way, and a task inserted twice (two
///   notifiers raising the same overdue escalation) is stored once by its unique key;
/// - a task enqueued due now (a fallback, an overdue escalation) sends `NOTIFY vigil_tasks` with
///   its transaction, which wakes every notifier's `PostgresWakeListener`.
///
/// Every operation is one transaction on a pooled connection, bounded by `timeout`; a failure is
/// a `StoreError`, transient when the server may come back (connection lost, shutting down, too
/// many connections, a serialization failure, the timeout), so the notifier logs the outage once
/// and retries with backoff.
public struct PostgresTaskQueue: DeliveryQueue {
    /// The channel `LISTEN`ed to by notifiers and notified when a task due now is enqueued.
    public static let wakeChannel = "vigil_tasks"

    let client: PostgresClient
    let target: PostgresTarget
    let logger: Logger
    let timeout: Duration

    public init(client: PostgresClient, target: PostgresTarget, logger: Logger, timeout: Duration = .seconds(10)) {
        self.client = client
        self.target = target
        self.logger = logger
        self.timeout = timeout
    }

    public func claim(
        dueBy now: Timestamp, leaseUntil: Timestamp, limit: Int, excluding inFlight: Set<String>, skipping: Int,
        admit: (ClaimCandidate) -> ClaimAdmission
    ) async throws(StoreError) -> [TaskRecord] {
        let fetch = limit + inFlight.count + skipping
        let candidates = try await transaction("cannot read the due tasks") { connection, logger in
            var rows: [[ClaimCandidate]] = []
            for condition in [TaskQueue.claimableEscalations, TaskQueue.claimable] {
                let query = Self.query(
                    "SELECT id, kind, tier, route, slot FROM tasks WHERE \(condition)",
                    [now.microseconds, Int64(fetch)])
                rows.append(
                    try await Self.rows(connection.queryIfOpen(query, logger: logger)).map(ClaimCandidate.init(row:)))
            }
            return rows
        }
        var chosen: [String] = []
        var considered: Set<String> = []
        var full = false
        for candidate in candidates.joined() where chosen.count < limit && !full {
            guard considered.insert(candidate.id).inserted, !inFlight.contains(candidate.id) else { continue }
            switch admit(candidate) {
            case .take: chosen.append(candidate.id)
            case .skip: continue
            case .stop: full = true
            }
        }
        guard !chosen.isEmpty else { return [] }
        let ids = chosen
        let claimed = try await transaction("cannot claim tasks") { connection, logger in
            let rows = try await connection.queryIfOpen(
                """
                UPDATE tasks SET state = 'claimed', lease_token = gen_random_uuid()::text,
                    next_attempt_at = \(leaseUntil.microseconds), attempts = attempts + 1,
                    first_attempt_at = coalesce(first_attempt_at, \(now.microseconds))
                WHERE id IN (
                    SELECT id FROM tasks WHERE id = ANY(\(ids)) AND state IN ('pending', 'claimed')
                        AND next_attempt_at <= \(now.microseconds)
                    FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, logger: logger)
            return try await Self.rows(rows).map(TaskRecord.init(row:))
        }
        let order = Dictionary(uniqueKeysWithValues: chosen.enumerated().map { ($1, $0) })
        return claimed.sorted { order[$0.id, default: 0] < order[$1.id, default: 0] }
    }

    public func delivered(_ task: TaskRecord, channel: String, at now: Timestamp, renewAt: Timestamp?)
        async throws(StoreError) -> Bool
    {
        try await transaction("cannot record a delivery") { connection, logger in
            let recorded = try await Self.changed(
                connection.queryIfOpen(
                    """
                    UPDATE tasks SET state = 'delivered', delivered_at = \(now.microseconds), channel = \(channel),
                        last_error = NULL, lease_token = NULL, renew_at = \(renewAt?.microseconds)
                    WHERE id = \(task.id) AND state = 'claimed' AND lease_token = \(task.leaseToken) RETURNING id
                    """, logger: logger))
            if recorded { return true }
            try await connection.queryIfOpen(
                """
                UPDATE tasks SET delivered_at = \(now.microseconds), channel = \(channel), notice_pending = 1
                WHERE id = \(task.id) AND state IN ('resolved', 'cancelled') AND delivered_at IS NULL
                """, logger: logger)
            return false
        }
    }

    public func retry(_ task: TaskRecord, channel: String, error: String, next: Timestamp)
        async throws(StoreError) -> Bool
    {
        try await transaction("cannot record a retry") { connection, logger in
            try await Self.changed(
                connection.queryIfOpen(
                    """
                    UPDATE tasks SET state = 'pending', next_attempt_at = \(next.microseconds), last_error = \(error),
                        channel = \(channel), lease_token = NULL
                    WHERE id = \(task.id) AND state = 'claimed' AND lease_token = \(task.leaseToken) RETURNING id
                    """, logger: logger))
        }
    }

    public func dead(_ task: TaskRecord, channel: String, error: String, at now: Timestamp)
        async throws(StoreError) -> (recorded: Bool, fallback: String?)
    {
        try await transaction("cannot record a dead task") { connection, logger in
            let recorded = try await Self.changed(
                connection.queryIfOpen(
                    """
                    UPDATE tasks SET state = 'dead', dead_at = \(now.microseconds), last_error = \(error),
                        channel = \(channel), lease_token = NULL
                    WHERE id = \(task.id) AND state = 'claimed' AND lease_token = \(task.leaseToken) RETURNING id
                    """, logger: logger))
            guard recorded else { return (false, nil) }
            guard task.kind == .escalation || task.kind == .overdue, !task.isFallback else { return (true, nil) }
            let pattern = TaskRecord.fallbackPrefix + "%"
            let earlier =
                try await connection.queryIfOpen(
                    "SELECT count(*) FROM tasks WHERE about = \(task.id) AND slot LIKE \(pattern)", logger: logger
                ).collect().first?.decode(Int.self) ?? 0
            let fallback = task.fallback(after: earlier, at: now)
            let inserted = try await Self.insert(
                fallback, score: task.score, reasons: JSONOutput.text(task.reasons), about: task.id, at: now,
                connection: connection, logger: logger)
            return (true, inserted ? fallback.id : nil)
        }
    }

    public func raiseOverdue(at now: Timestamp, grace: TimeSpan, route: String) async throws(StoreError)
        -> [PlannedTask]
    {
        try await transaction("cannot raise overdue escalations") { connection, logger in
            let since = now.adding(TimeSpan(microseconds: -grace.microseconds)).microseconds
            let late = try await Self.rows(
                connection.queryIfOpen(
                    Self.query("SELECT * FROM tasks WHERE \(TaskQueue.lateOutreach) FOR UPDATE SKIP LOCKED", [since]),
                    logger: logger)
            ).map(TaskRecord.init(row:))
            let lateIDs = Set(late.map(\.id))
            let dead = try await Self.rows(
                connection.queryIfOpen(
                    Self.query("SELECT * FROM tasks WHERE \(TaskQueue.deadOutreach) FOR UPDATE SKIP LOCKED", []),
                    logger: logger)
            ).map(TaskRecord.init(row:)).filter { !lateIDs.contains($0.id) }
            var raised: [PlannedTask] = []
            for task in late + dead {
                let overdue = task.overdueEscalation(route: route, at: now)
                if try await Self.insert(
                    overdue, score: task.score, reasons: JSONOutput.text(task.reasons), about: task.id, at: now,
                    connection: connection, logger: logger)
                {
                    raised.append(overdue)
                }
                try await connection.queryIfOpen(
                    "UPDATE tasks SET overdue_raised = 1 WHERE id = \(task.id)", logger: logger)
            }
            return raised
        }
    }

    public func pendingNotices(limit: Int) async throws(StoreError) -> [TaskRecord] {
        try await transaction("cannot read the end notices") { connection, logger in
            try await Self.rows(
                connection.queryIfOpen(
                    Self.query("SELECT * FROM tasks WHERE \(TaskQueue.notices)", [Int64(limit)]), logger: logger)
            ).map(TaskRecord.init(row:))
        }
    }

    public func noticeSent(_ id: String) async throws(StoreError) {
        try await transaction("cannot record an end notice") { connection, logger in
            _ = try await connection.queryIfOpen("UPDATE tasks SET notice_pending = 0 WHERE id = \(id)", logger: logger)
        }
    }

    public func dueRenewals(at now: Timestamp, limit: Int) async throws(StoreError) -> [TaskRecord] {
        try await transaction("cannot read the alerts to renew") { connection, logger in
            try await Self.rows(
                connection.queryIfOpen(
                    Self.query("SELECT * FROM tasks WHERE \(TaskQueue.renewals)", [now.microseconds, Int64(limit)]),
                    logger: logger)
            ).map(TaskRecord.init(row:))
        }
    }

    public func renewed(_ id: String, next: Timestamp) async throws(StoreError) {
        try await transaction("cannot record a renewal") { connection, logger in
            _ = try await connection.queryIfOpen(
                "UPDATE tasks SET renew_at = \(next.microseconds) WHERE id = \(id)", logger: logger)
        }
    }
}

extension PostgresTaskQueue {
    /// Inserts a task unless its id (or its client, episode and slot) is already there; when it is
    /// inserted due now, notifies the notifiers (on commit). True when inserted.
    static func insert(
        _ task: PlannedTask, score: Double, reasons: String, about: String?, at now: Timestamp,
        connection: PostgresConnection, logger: Logger
    ) async throws -> Bool {
        let inserted = try await changed(
            connection.queryIfOpen(
                """
                INSERT INTO tasks (id, client, episode, slot, kind, tier, score, route, instruction, reasons, about,
                    created_at, deliver_at, due, state, next_attempt_at)
                VALUES (\(task.id), \(task.client), \(task.episode), \(task.slot), \(task.kind.rawValue),
                    \(task.tier.rawValue), \(score), \(task.route), \(task.instruction), \(reasons), \(about),
                    \(now.microseconds), \(task.deliverAt.microseconds), \(task.due.microseconds), 'pending',
                    \(task.deliverAt.microseconds))
                ON CONFLICT DO NOTHING RETURNING id
                """, logger: logger))
        if inserted && task.deliverAt <= now {
            try await connection.queryIfOpen("SELECT pg_notify(\(wakeChannel), '')", logger: logger)
        }
        return inserted
    }

    /// `body` in one transaction on a pooled connection, given at most `timeout` (a lost server must
    /// not hold the notifier's loop, nor its watchdog), its failure as a `StoreError`.
    func transaction<T: Sendable>(
        _ doing: String, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws(StoreError) -> T {
        let (client, logger) = (self.client, self.logger)
        do {
            return try await Deadline.run(within: timeout) {
                try await client.withConnection { connection in
                    try await connection.transaction(logger: logger) { connection in try await body(connection, logger)
                    }
                }
            }
        } catch {
            throw storeError(error, doing: doing)
        }
    }

    /// A failure as a `StoreError` (see `PostgresError.storeError`).
    func storeError(_ error: any Error, doing: String) -> StoreError {
        PostgresError.storeError(error, target: target, doing: doing)
    }

    /// SQL written with SQLite's `?` placeholders (the conditions `TaskQueue` shares) as a
    /// PostgreSQL query with `$1, $2, …` bound to `values`.
    static func query(_ sql: String, _ values: [Int64]) -> PostgresQuery {
        let numbered = SQLNumbering.number(sql)
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { bindings.append(value) }
        return PostgresQuery(unsafeSQL: numbered, binds: bindings)
    }

    /// Whether a statement with `RETURNING` changed a row.
    static func changed(_ rows: PostgresRowSequence) async throws -> Bool {
        try await !rows.collect().isEmpty
    }

    /// The rows as GRDB rows (integers, doubles, texts and nulls), so that `TaskRecord` and
    /// `ClaimCandidate` read them as they read SQLite's.
    static func rows(_ rows: PostgresRowSequence) async throws -> [Row] {
        try await rows.collect().map(row)
    }

    /// One row as a GRDB row (integers, doubles, texts and nulls).
    static func row(_ row: PostgresRow) throws -> Row {
        var values: [String: (any DatabaseValueConvertible)?] = [:]
        for cell in row {
            switch cell.dataType {
            case .int2, .int4, .int8: values[cell.columnName] = try cell.decode(Int64?.self)
            case .float4, .float8: values[cell.columnName] = try cell.decode(Double?.self)
            default: values[cell.columnName] = try cell.decode(String?.self)
            }
        }
        return Row(values)
    }
}

/// Runs work with a time limit. The work runs in a task of its own: when the limit passes first,
/// the caller gets `Deadline.Exceeded` at once and the work is cancelled (a query already sent ends
/// when the server or the connection does; its connection is not reused meanwhile).
enum Deadline {
    struct Exceeded: Error, CustomStringConvertible {
        let limit: Duration
        var description: String { "no answer within \(limit)" }
    }

    /// Blocks the calling thread (never an event loop) until `future` completes or `deadline`
    /// passes, whichever is first: a future that is never completed (a query lost with its
    /// connection) cannot hold the daemon.
    static func wait<T: Sendable>(for future: EventLoopFuture<T>, until deadline: NIODeadline) throws -> T {
        let outcome = Handoff<T>()
        future.whenComplete { outcome.complete($0) }
        let remaining = max(0, (deadline - .now()).nanoseconds)
        guard outcome.done.wait(timeout: .now() + .nanoseconds(Int(remaining))) == .success,
            let result = outcome.result
        else {
            throw Exceeded(limit: .nanoseconds(remaining))
        }
        return try result.get()
    }

    /// A future's result, handed from its event loop to the waiting thread.
    private final class Handoff<T: Sendable>: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var stored: Result<T, any Error>?

        var result: Result<T, any Error>? { lock.withLock { stored } }

        func complete(_ result: Result<T, any Error>) {
            lock.withLock { stored = result }
            done.signal()
        }
    }

    static func run<T: Sendable>(within limit: Duration, _ work: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        let outcome = Outcome<T>()
        return try await withCheckedThrowingContinuation { continuation in
            outcome.start(continuation)
            let worker = Task {
                do {
                    outcome.finish(.success(try await work()))
                } catch {
                    outcome.finish(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled && outcome.finish(.failure(Exceeded(limit: limit))) { worker.cancel() }
            }
            outcome.onFinish { timer.cancel() }
        }
    }

    /// The continuation, resumed once by whichever finishes first.
    final class Outcome<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var continuation: CheckedContinuation<T, any Error>?
        private var result: Result<T, any Error>?
        private var finished: (@Sendable () -> Void)?

        func start(_ continuation: CheckedContinuation<T, any Error>) {
            lock.withLock { self.continuation = continuation }
        }

        /// Runs `action` once the outcome is known (at once if it already is).
        func onFinish(_ action: @escaping @Sendable () -> Void) {
            lock.lock()
            let known = result != nil
            if !known { finished = action }
            lock.unlock()
            if known { action() }
        }

        /// True when this was the first outcome (and so resumed the caller).
        @discardableResult
        func finish(_ outcome: Result<T, any Error>) -> Bool {
            lock.lock()
            guard result == nil, let continuation else {
                lock.unlock()
                return false
            }
            result = outcome
            self.continuation = nil
            let action = finished
            lock.unlock()
            continuation.resume(with: outcome)
            action?()
            return true
        }
    }
}
