import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import VigilCore
import VigilShell

/// The daemon's store on PostgreSQL, shared by the daemons of several nodes: the same commit and
/// decision stages as SQLite (`StoreCommit`, `DecisionStage`), through a `PostgresSession` on one
/// connection of its own. What sharing adds:
/// - each commit takes its clients' advisory locks before inserting their events
///   (`PostgresSession.serialize`): two nodes never evaluate one client at once, and each
///   evaluation sees every event of the client stored before it, whichever node stored it;
/// - absence rounds run on one node at a time: a round takes the timer lock
///   (`pg_try_advisory_xact_lock`) or, held by another node, does nothing this time;
/// - a task due now is announced with `NOTIFY` in its transaction.
///
/// Every transaction is bounded by `timeout`, every wait for the server within it too: past it,
/// the connection is abandoned and closed (PostgreSQL rolls the transaction back) and the failure
/// is transient, as is a lost connection or a server shutting down; the next transaction connects
/// again.
///
/// As a `Service`, it closes its connection at the daemon's graceful shutdown (listed first among
/// the daemon's services, it is shut down last, after the ingest service's last commit).
public final class PostgresEventStore: CheckInStore, Service, @unchecked Sendable {
    let target: PostgresTarget
    let stages: [any CommitStage]
    let logger: Logger
    let timeout: TimeAmount
    private let numbering = SQLNumbering()
    /// This host's name, as the node's heartbeat writes it.
    private let host = PostgresNodeHeartbeat.hostName()
    /// Guards `connection`. Transactions come from the daemon's one store-side actor.
    private let lock = NSLock()
    private var connection: PostgresConnection?

    public init(target: PostgresTarget, stages: [any CommitStage], logger: Logger, timeout: TimeAmount = .seconds(20)) {
        self.target = target
        self.stages = stages
        self.logger = logger
        self.timeout = timeout
    }

    public func commit(_ events: [PendingEvent], rejections: [PendingRejection], at time: Timestamp)
        throws(StoreError) -> [CommitOutcome]
    {
        try transaction("cannot commit check-ins") { session in
            try StoreCommit(stages: stages).run(events, rejections: rejections, at: time, session: session)
        }
    }

    public func tick(at now: Timestamp) throws(StoreError) -> AbsenceRound {
        guard let decisions = stages.lazy.compactMap({ $0 as? DecisionStage }).first else {
            return AbsenceRound(decisions: [], clients: 0)
        }
        return try transaction("cannot decide absences") { session in
            let held = try session.run(
                PostgresQuery(unsafeSQL: "SELECT pg_try_advisory_xact_lock(\(PostgresLocks.timer), 0)")
            ).rows.first.flatMap { try? $0.decode(Bool.self) }
            // Another node is deciding absences: they are its to decide this time.
            guard held == true else { return AbsenceRound(decisions: [], clients: 0) }
            try session.execute(
                """
                INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value
                """, NodeRecord.timerSetting, NodeRecord.timerValue(host: host, pid: getpid(), at: now))
            return try decisions.tick(at: now, session: session)
        }
    }

    public func awaitAbsencesIfThePackChanged() throws(StoreError) {
        guard let decisions = stages.lazy.compactMap({ $0 as? DecisionStage }).first else { return }
        try transaction("cannot record the pack in force") { session in
            try decisions.awaitAbsencesIfThePackChanged(session: session)
        }
    }

    public func run() async {
        try? await gracefulShutdown()
        close()
    }

    /// Closes the connection and waits until it is (a transaction after this connects again).
    public func close() {
        let open = lock.withLock {
            defer { connection = nil }
            return connection
        }
        try? open?.close().wait()
    }

    /// Runs `body` in one transaction on the store's connection (connecting first if needed), then
    /// runs what the session was asked to do after the commit.
    func transaction<T>(_ doing: String, _ body: (PostgresSession) throws -> T) throws(StoreError) -> T {
        let deadline = NIODeadline.now() + timeout
        let connection: PostgresConnection
        do {
            connection = try connected(by: deadline)
        } catch {
            throw PostgresError.storeError(error, target: target, doing: "\(doing): cannot connect")
        }
        let session = PostgresSession(
            connection: connection, numbering: numbering, deadline: deadline, logger: logger)
        do {
            // Read committed: each statement sees what committed before it, so a statement after a
            // client's lock is granted sees every earlier commit of that client.
            try session.run("BEGIN ISOLATION LEVEL READ COMMITTED")
            let result = try body(session)
            try session.run("COMMIT")
            for published in session.committed { published() }
            return result
        } catch {
            if connection.isClosed || error is Deadline.Exceeded {
                abandon(connection)
            } else {
                _ = try? session.run("ROLLBACK")
            }
            throw PostgresError.storeError(error, target: target, doing: doing)
        }
    }

    /// Drops `connection` (the next transaction connects again) and closes it; it is kept until
    /// closed.
    private func abandon(_ connection: PostgresConnection) {
        lock.withLock { if self.connection === connection { self.connection = nil } }
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// The open connection, or a new one (by `deadline`).
    private func connected(by deadline: NIODeadline) throws -> PostgresConnection {
        if let open = lock.withLock({ connection }), !open.isClosed { return open }
        let connecting = PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(), configuration: try target.connectionConfiguration(),
            id: 1, logger: logger)
        let opened: PostgresConnection
        do {
            opened = try Deadline.wait(for: connecting, until: deadline)
        } catch let late as Deadline.Exceeded {
            // Closed if it connects after all.
            connecting.whenSuccess { $0.close().whenComplete { _ in } }
            throw late
        }
        do {
            // The server's side of the bounds: a lock or statement waits less than the transaction's
            // deadline (so an abandoned backend does not go on holding locks), an idle transaction
            // ends, and a client gone without closing (a partition, a paused host) is noticed within
            // about half a minute, its locks released.
            // (20 s transactions: locks 15 s, statements 18 s, idle 20 s.)
            let seconds = max(4, timeout.nanoseconds / 1_000_000_000)
            let bounds = """
                SELECT set_config('lock_timeout', '\(min(15, seconds - 3))s', false),
                    set_config('statement_timeout', '\(seconds - 2)s', false),
                    set_config('idle_in_transaction_session_timeout', '\(seconds)s', false),
                    set_config('client_connection_check_interval', '5s', false),
                    set_config('tcp_keepalives_idle', '10', false), set_config('tcp_keepalives_interval', '5', false),
                    set_config('tcp_keepalives_count', '3', false)
                """
            _ = try Deadline.wait(for: opened.query(PostgresQuery(unsafeSQL: bounds), logger: logger), until: deadline)
        } catch {
            abandon(opened)
            throw error
        }
        lock.withLock { connection = opened }
        return opened
    }

    deinit {
        // postgres-nio requires a connection be closed before it goes.
        if let connection, !connection.isClosed {
            connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
        }
    }
}

extension DaemonStore {
    /// The configured store: SQLite (`DaemonStore.sqlite`) or PostgreSQL, whose schema is migrated
    /// first (a server that cannot be reached or logged into is an error, exit 69, for systemd to
    /// retry). On PostgreSQL the node's heartbeat runs beside the daemon (`vigil status`).
    public static let configured: Opening = { config, stages, logger in
        guard case .postgres(let url, let passwordFile) = config.store else {
            return try await sqlite(config, stages, logger)
        }
        let target = try PostgresTarget(url: url, passwordFile: passwordFile)
        try await PostgresSchema.migrate(target, logger: logger)
        let client = PostgresClient(configuration: target.clientConfiguration)
        let store = PostgresEventStore(target: target, stages: stages, logger: logger)
        return DaemonStore(
            store: store,
            services: [
                store, client,
                PostgresNodeHeartbeat(client: client, role: "serve", clock: SystemClock(), logger: logger),
            ],
            description: target.description)
    }
}
