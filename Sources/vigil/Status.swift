import ArgumentParser
import Logging
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil status`: counts from the store and the spool, also while the daemon runs; on PostgreSQL,
/// also the nodes working on it.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Show the store, events stored, clients, rejected check-ins, spool backlog, the last ingest time and (on PostgreSQL) the nodes.",
        discussion:
            "--json prints an object with the stable keys store, location, events, clients, rejected, backlog, last_ingest, nodes."
    )

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print JSON (stable keys, documented in the README).")
    var json = false

    func run() async throws {
        let config = try options.load()
        let status: StoreStatus
        var nodes: [NodeRecord]?
        let location: String
        let now = SystemClock().now()
        switch config.store {
        case .sqlite:
            location = config.databasePath
            do {
                status = try EventStore(readingFrom: config.databasePath).status()
            } catch {
                throw fail(error)
            }
        case .postgres(let url, let passwordFile):
            do {
                let target = try PostgresTarget(url: url, passwordFile: passwordFile)
                location = target.description
                var logger = Logger(label: "vigil.status")
                logger.logLevel = .error
                (status, nodes) = try await PostgresStatus.read(target, at: now, logger: logger)
            } catch {
                throw fail(error)
            }
        }
        let backend = nodes == nil ? "sqlite" : "postgres"
        let backlog = SpoolDirectory(root: config.spool).backlog()
        if json {
            print(
                JSONOutput.text(
                    StatusJSON(
                        store: backend, location: location, events: status.events, clients: status.clients,
                        rejected: status.rejected, backlog: backlog, lastIngest: status.lastIngest, nodes: nodes)))
            return
        }
        print("store        \(backend) \(location)")
        print("events       \(status.events)")
        print("clients      \(status.clients)")
        print("rejected     \(status.rejected)")
        print("backlog      \(backlog)")
        print("last ingest  \(status.lastIngest.map { "\($0)" } ?? "never")")
        for node in nodes ?? [] {
            let ago = max(0, (now.microseconds - node.lastSeen.microseconds) / 1_000_000)
            let timer = node.timerRound.map {
                "; decided the latest absence round \(max(0, (now.microseconds - $0.microseconds) / 1_000_000))s ago"
            }
            print(
                "node         \(node.host) \(node.role) pid \(node.pid): last seen \(ago)s ago (\(node.lastSeen)), "
                    + "started \(node.started), vigil \(node.version)\(timer ?? "")")
        }
    }
}

/// `vigil status --json`: `{"store" ("sqlite" or "postgres"), "location" (the file, or the URL
/// without a password), "backlog", "clients", "events", "last_ingest" (null when never), "rejected",
/// "nodes"}` (null on SQLite; on PostgreSQL the processes seen within a day: `host`, `role`, `pid`,
/// `version`, `started`, `last_seen`, `timer_round`: when the daemon that decided the latest
/// absence round did, null for every other node).
struct StatusJSON: Encodable {
    var store: String
    var location: String
    var events: Int
    var clients: Int
    var rejected: Int
    var backlog: Int
    @NullWhenAbsent var lastIngest: Timestamp?
    @NullWhenAbsent var nodes: [NodeRecord]?

    enum CodingKeys: String, CodingKey {
        case store, location, events, clients, rejected, backlog, nodes
        case lastIngest = "last_ingest"
    }
}
