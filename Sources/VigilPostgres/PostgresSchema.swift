import Logging
import PostgresNIO

/// The PostgreSQL store's schema, as ordered migrations recorded in `vigil_migrations`. Never edit
/// a shipped migration; add one. The tables and columns are the SQLite store's (its `Schema`, v1
/// to v9) with PostgreSQL's types: times stay integers (µs since the epoch), scores are
/// `DOUBLE PRECISION`, and a `seq` or `id` is an identity column.
public enum PostgresSchema {
    /// (version, name, SQL) in order.
    static let migrations: [(version: Int, name: String, sql: [String])] = [
        (1, "the SQLite store's schema through its v9", version1),
        (2, "the nodes of a cluster: what each process runs and when it was last seen", version2),
        (3, "each client's revision, so that a node knows when its cached state is stale", version3),
        (4, "an index of the open tasks by client (the SQLite store's v10)", version4),
    ]

    /// The newest version this build knows.
    public static var current: Int { migrations.last?.version ?? 0 }

    /// Applies the migrations not yet recorded, each in its own transaction, under an advisory
    /// lock so that nodes starting together migrate once. Refuses a database migrated by a newer
    /// Vigil. Returns the versions applied.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, target: PostgresTarget, logger: Logger)
        async throws(PostgresError) -> [Int]
    {
        do {
            // Under the lock too: two nodes creating the table at once would otherwise collide in
            // PostgreSQL's catalog (`IF NOT EXISTS` does not guard against a concurrent creation).
            try await connection.transaction(logger: logger) { connection in
                try await takeMigrationLock(connection, target: target, logger: logger)
                try await connection.queryIfOpen(
                    "CREATE TABLE IF NOT EXISTS vigil_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                    logger: logger)
            }
            var applied: [Int] = []
            for migration in migrations {
                let done = try await connection.transaction(logger: logger) { connection in
                    // One migrator at a time: the lock ends with the transaction.
                    try await takeMigrationLock(connection, target: target, logger: logger)
                    let newest =
                        try await connection.queryIfOpen(
                            "SELECT coalesce(max(version), 0) FROM vigil_migrations", logger: logger
                        ).collect().first?.decode(Int.self) ?? 0
                    guard newest <= current else {
                        throw PostgresError(
                            target: target.description,
                            problem:
                                "its schema is version \(newest), newer than this Vigil knows (\(current)): upgrade Vigil",
                            exitStatus: .config)
                    }
                    guard newest < migration.version else { return false }
                    for statement in migration.sql {
                        try await connection.queryIfOpen(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.queryIfOpen(
                        "INSERT INTO vigil_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                        logger: logger)
                    return true
                }
                if done { applied.append(migration.version) }
            }
            return applied
        } catch {
            throw PostgresError.wrap(error, target: target, doing: "cannot migrate the schema")
        }
    }

    /// Connects, applies the migrations not yet recorded (see `migrate(_:target:logger:)`) and
    /// closes the connection: what a node does when it starts.
    @discardableResult
    public static func migrate(_ target: PostgresTarget, logger: Logger) async throws(PostgresError) -> [Int] {
        let connection = try await target.connect(logger: logger)
        do {
            let applied = try await migrate(connection, target: target, logger: logger)
            try? await connection.close()
            return applied
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Checks, changing nothing, that the database holds a Vigil store of this build's schema (for
    /// the commands that only read it).
    public static func check(_ connection: PostgresConnection, target: PostgresTarget, logger: Logger)
        async throws(PostgresError)
    {
        do {
            let exists =
                try await connection.queryIfOpen("SELECT to_regclass('vigil_migrations') IS NOT NULL", logger: logger)
                .collect().first?.decode(Bool.self) ?? false
            let newest =
                exists
                ? try await connection.queryIfOpen(
                    "SELECT coalesce(max(version), 0) FROM vigil_migrations", logger: logger
                )
                .collect().first?.decode(Int.self) ?? 0 : 0
            guard newest == current else {
                throw PostgresError(
                    target: target.description,
                    problem: newest == 0
                        ? "no Vigil store in this database: has `vigil notify` or `vigil store migrate` run on it?"
                        : newest > current
                            ? "its schema is version \(newest), newer than this Vigil knows (\(current)): upgrade Vigil"
                            : "its schema is version \(newest), older than this Vigil's (\(current)): start `vigil notify`, which migrates it",
                    exitStatus: newest > current ? .config : .unavailable)
            }
        } catch {
            throw PostgresError.wrap(error, target: target, doing: "cannot read the schema's version")
        }
    }

    /// The advisory lock key of schema migrations ("vigil" in ASCII).
    static let lockKey: Int64 = 0x76_69_67_69_6c

    /// How long a process waits for another's migration (or store copy) to finish.
    static let lockWait = 30

    /// Takes the migration lock for the rest of the transaction, waiting at most `lockWait`
    /// seconds for the process holding it: past that, a `PostgresError` (exit 69) names the wait,
    /// so that neither a node nor `vigil store migrate` hangs behind a migrator that never ends
    /// (systemd starts the node again). The bound stays on every lock the transaction waits for:
    /// a migration's `ALTER TABLE` that cannot have its table within it fails and is tried again,
    /// rather than queueing every other node's commits behind its lock request.
    static func takeMigrationLock(_ connection: PostgresConnection, target: PostgresTarget, logger: Logger)
        async throws
    {
        try await connection.queryIfOpen(
            PostgresQuery(unsafeSQL: "SET LOCAL lock_timeout = '\(lockWait)s'"), logger: logger)
        do {
            // Its rows are awaited: a lock not granted in time fails the statement's result, not
            // the request.
            _ = try await connection.queryIfOpen("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
                .collect()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            throw PostgresError(
                target: target.description,
                problem:
                    "another process held the schema's migration lock for \(lockWait) s (a node migrating the schema, "
                    + "or `vigil store migrate` copying a store into it): try again once it has finished")
        }
    }

    /// The identity columns, whose sequences continue after the largest value copied in.
    public static let identities = [
        ("events", "seq"), ("rejections", "seq"), ("rulesets", "id"), ("absences", "seq"), ("tasks", "seq"),
    ]

    /// PostgreSQL only (one SQLite store has one host): each process working on the store, by
    /// host, role and pid, refreshed every few seconds (`PostgresNodeHeartbeat`), for `vigil status`.
    static let version2 = [
        """
        CREATE TABLE nodes (
            host TEXT NOT NULL,
            role TEXT NOT NULL,
            pid BIGINT NOT NULL,
            version TEXT NOT NULL,
            started_at BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            PRIMARY KEY (host, role, pid)
        )
        """
    ]

    /// PostgreSQL only (one SQLite store has one writer): each client's revision, advanced by every
    /// transaction that changes its decision state, so a node uses a state it cached only while no
    /// other node has changed the client since (`PostgresSession.revisions(of:)`).
    static let version3 = [
        "CREATE TABLE client_revisions (client TEXT PRIMARY KEY, revision BIGINT NOT NULL)"
    ]

    /// Every commit reads its clients' open tasks; through `tasks_by_client` that read visited each
    /// client's whole task history. (`CREATE INDEX` holds writes to `tasks` for as long as it
    /// builds, once, at the upgrade.)
    static let version4 = [
        "CREATE INDEX tasks_open_by_client ON tasks (client) WHERE state IN ('pending', 'claimed', 'delivered')"
    ]

    static let version1 = [
        """
        CREATE TABLE events (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL,
            client TEXT NOT NULL,
            at BIGINT NOT NULL,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            digest TEXT NOT NULL,
            body TEXT NOT NULL,
            origin TEXT NOT NULL,
            ingested_at BIGINT NOT NULL,
            UNIQUE (client, id)
        )
        """,
        "CREATE INDEX events_by_client_time ON events (client, at)",
        "CREATE INDEX events_plans ON events (client, at) WHERE kind = 'plan'",
        """
        CREATE TABLE clients (
            id TEXT PRIMARY KEY,
            first_at BIGINT NOT NULL,
            last_at BIGINT NOT NULL,
            events BIGINT NOT NULL,
            score DOUBLE PRECISION,
            tier TEXT,
            scored_at BIGINT,
            absence_due BIGINT
        )
        """,
        "CREATE INDEX clients_by_absence_due ON clients (absence_due) WHERE absence_due IS NOT NULL",
        """
        CREATE TABLE rejections (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            origin TEXT NOT NULL,
            digest TEXT NOT NULL,
            reasons TEXT NOT NULL,
            rejected_at BIGINT NOT NULL,
            UNIQUE (origin, digest)
        )
        """,
        """
        CREATE TABLE rulesets (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            first_used_at BIGINT NOT NULL,
            longest_half_life BIGINT NOT NULL,
            moderate DOUBLE PRECISION NOT NULL,
            high DOUBLE PRECISION NOT NULL,
            imminent DOUBLE PRECISION NOT NULL,
            policy TEXT,
            longest_active BIGINT
        )
        """,
        """
        CREATE TABLE ruleset_rules (
            ruleset BIGINT NOT NULL REFERENCES rulesets (id),
            rule TEXT NOT NULL,
            summary TEXT NOT NULL,
            weight DOUBLE PRECISION NOT NULL,
            half_life BIGINT NOT NULL,
            floor TEXT,
            evidence TEXT NOT NULL,
            domain TEXT,
            acute_for BIGINT NOT NULL DEFAULT 0,
            active_for BIGINT,
            PRIMARY KEY (ruleset, rule)
        )
        """,
        """
        CREATE TABLE evaluations (
            event_seq BIGINT PRIMARY KEY REFERENCES events (seq),
            fired TEXT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            tier TEXT NOT NULL,
            ruleset BIGINT NOT NULL REFERENCES rulesets (id),
            ended TEXT
        )
        """,
        """
        CREATE TABLE absences (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            client TEXT NOT NULL,
            rule TEXT NOT NULL,
            at BIGINT NOT NULL,
            fired BIGINT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            tier TEXT NOT NULL,
            ruleset BIGINT NOT NULL REFERENCES rulesets (id),
            decided_at BIGINT NOT NULL,
            UNIQUE (client, rule, at)
        )
        """,
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """
        CREATE TABLE episodes (
            client TEXT NOT NULL,
            number BIGINT NOT NULL,
            tier TEXT NOT NULL,
            opened_at BIGINT NOT NULL,
            closed_at BIGINT,
            held_until BIGINT,
            domains TEXT,
            watch_until BIGINT,
            PRIMARY KEY (client, number)
        )
        """,
        """
        CREATE TABLE tasks (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            client TEXT NOT NULL,
            episode BIGINT NOT NULL,
            slot TEXT NOT NULL,
            kind TEXT NOT NULL,
            tier TEXT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            route TEXT NOT NULL,
            instruction TEXT NOT NULL,
            reasons TEXT NOT NULL,
            about TEXT,
            created_at BIGINT NOT NULL,
            deliver_at BIGINT NOT NULL,
            due BIGINT NOT NULL,
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0,
            next_attempt_at BIGINT NOT NULL,
            first_attempt_at BIGINT,
            lease_token TEXT,
            channel TEXT,
            delivered_at BIGINT,
            last_error TEXT,
            contact_attempts BIGINT NOT NULL DEFAULT 0,
            resolved_at BIGINT,
            resolved_by TEXT,
            cancel_reason TEXT,
            dead_at BIGINT,
            overdue_raised BIGINT NOT NULL DEFAULT 0,
            notice_pending BIGINT NOT NULL DEFAULT 0,
            renew_at BIGINT,
            plan TEXT,
            taken_by TEXT,
            taken_at BIGINT,
            acted_by TEXT,
            UNIQUE (client, episode, slot)
        )
        """,
        "CREATE INDEX tasks_claimable ON tasks (next_attempt_at) WHERE state IN ('pending', 'claimed')",
        """
        CREATE INDEX tasks_claimable_escalations ON tasks (next_attempt_at)
            WHERE state IN ('pending', 'claimed') AND kind IN ('escalation', 'overdue')
        """,
        "CREATE INDEX tasks_by_client ON tasks (client, due)",
        """
        CREATE INDEX tasks_open_outreach ON tasks (due)
            WHERE kind IN ('caring_contact', 'follow_up', 'peer_checkin')
            AND state IN ('pending', 'claimed', 'delivered', 'dead') AND overdue_raised = 0
        """,
        """
        CREATE INDEX tasks_dead_outreach ON tasks (due)
            WHERE state = 'dead' AND overdue_raised = 0 AND kind IN ('caring_contact', 'follow_up', 'peer_checkin')
        """,
        "CREATE INDEX tasks_notices ON tasks (notice_pending) WHERE notice_pending = 1",
        "CREATE INDEX tasks_renewals ON tasks (renew_at) WHERE renew_at IS NOT NULL",
        """
        CREATE TABLE programs (
            client TEXT NOT NULL,
            number BIGINT NOT NULL,
            started_at BIGINT NOT NULL,
            extended_at BIGINT NOT NULL,
            episode BIGINT NOT NULL,
            contacts BIGINT NOT NULL,
            last_delivery BIGINT NOT NULL,
            stopped_at BIGINT,
            stop_reason TEXT,
            PRIMARY KEY (client, number)
        )
        """,
    ]
}
