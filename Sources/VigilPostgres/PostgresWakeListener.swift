import Logging
import PostgresNIO
import ServiceLifecycle
import VigilCore
import VigilShell

/// Wakes the notifier when any node enqueues a task due now: `LISTEN vigil_tasks` on a connection
/// of its own, each notification poking `wake`. A lost connection is logged once per outage and
/// opened again with the store's backoff; the notifier is poked on every (re)connection, for what
/// it may have missed, and polls meanwhile, so a lost notification costs at most one poll interval.
struct PostgresWakeListener: Service {
    let target: PostgresTarget
    let wake: WakeSignal
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var outage = OutageLatch<String>()
            var failures = 0
            while !Task.isCancelled {
                do {
                    let connection = try await target.connect(logger: logger)
                    defer { Task { try? await connection.close() } }
                    try await connection.listen(on: PostgresTaskQueue.wakeChannel) { notifications in
                        if let previous = outage.recover() {
                            logger.log(
                                .notice, .storeRecovered, "listening for new tasks again",
                                ["previous_error": "\(previous)"])
                        }
                        failures = 0
                        wake.poke()
                        for try await _ in notifications { wake.poke() }
                    }
                } catch {
                    guard !Task.isCancelled else { return }
                    let problem = "\(PostgresError.wrap(error, target: target, doing: "LISTEN"))"
                    if outage.fail(problem) {
                        logger.log(
                            .error, .storeUnavailable,
                            "cannot listen for new tasks; finding them by polling until this clears",
                            ["error": "\(problem)"])
                    }
                }
                failures += 1
                try? await Task.sleep(for: .microseconds(RetryPolicy.storeOutage.delay(after: failures).microseconds))
            }
        }
    }
}

extension NotifierStore {
    /// The configured store: SQLite (`NotifierStore.sqlite`) or PostgreSQL, whose schema is
    /// migrated (or checked) first; a server that cannot be reached or logged into is an error
    /// (exit 69) for systemd to retry.
    public static let configured: Opening = { config, wake, logger in
        guard case .postgres(let url, let passwordFile) = config.store else {
            return try await sqlite(config, wake, logger)
        }
        let target = try PostgresTarget(url: url, passwordFile: passwordFile)
        try await PostgresSchema.migrate(target, logger: logger)
        let client = PostgresClient(configuration: target.clientConfiguration)
        return NotifierStore(
            queue: PostgresTaskQueue(client: client, target: target, logger: logger),
            services: [
                client, PostgresWakeListener(target: target, wake: wake, logger: logger),
                PostgresNodeHeartbeat(client: client, role: "notify", clock: SystemClock(), logger: logger),
            ],
            description: target.description)
    }
}
