import ArgumentParser
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
            status = try EventStore(readingFrom: config.databasePath).status()
        } catch {
            throw fail(error)
        }
        let backlog = SpoolDirectory(root: config.spool).backlog()
        let last = status.lastIngest.map { "\($0)" }
        if json {
            print(
                "{\"events\":\(status.events),\"clients\":\(status.clients),\"rejected\":\(status.rejected),"
                    + "\"backlog\":\(backlog),\"last_ingest\":\(last.map(JSONText.quote) ?? "null")}")
        } else {
            print("events       \(status.events)")
            print("clients      \(status.clients)")
            print("rejected     \(status.rejected)")
            print("backlog      \(backlog)")
            print("last ingest  \(last ?? "never")")
        }
    }
}
