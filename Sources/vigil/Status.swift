import ArgumentParser
import VigilCore
import VigilShell

/// `vigil status`: counts from the store and the spool, also while the daemon runs.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show events stored, clients, rejected check-ins, spool backlog and the last ingest time.",
        discussion: "--json prints an object with the stable keys events, clients, rejected, backlog, last_ingest.")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print JSON (stable keys, documented in the README).")
    var json = false

    func run() throws {
        let config = try options.load()
        let status: StoreStatus
        do {
            status = try EventStore(readingFrom: config.sqliteStore(for: "vigil status")).status()
        } catch {
            throw fail(error)
        }
        let backlog = SpoolDirectory(root: config.spool).backlog()
        if json {
            print(
                JSONOutput.text(
                    StatusJSON(
                        events: status.events, clients: status.clients, rejected: status.rejected, backlog: backlog,
                        lastIngest: status.lastIngest)))
        } else {
            print("events       \(status.events)")
            print("clients      \(status.clients)")
            print("rejected     \(status.rejected)")
            print("backlog      \(backlog)")
            print("last ingest  \(status.lastIngest.map { "\($0)" } ?? "never")")
        }
    }
}

/// `vigil status --json`: `{"backlog", "clients", "events", "last_ingest" (null when never), "rejected"}`.
struct StatusJSON: Encodable {
    var events: Int
    var clients: Int
    var rejected: Int
    var backlog: Int
    @NullWhenAbsent var lastIngest: Timestamp?

    enum CodingKeys: String, CodingKey {
        case events, clients, rejected, backlog
        case lastIngest = "last_ingest"
    }
}
