import ArgumentParser
import Logging
import VigilPostgres
import VigilShell

/// `vigil store`: the store itself (moving it to PostgreSQL).
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Move the store (see docs/scale-out.md).",
        subcommands: [StoreMigrate.self])
}

/// `vigil store migrate --to postgres://…`: copies the configured SQLite store into an empty
/// PostgreSQL database and verifies every table's row count before it commits.
struct StoreMigrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy the SQLite store into an empty PostgreSQL database, and verify the copy.",
        discussion: """
            Every table (events, evaluations, episodes, tasks with their states, programs, …) is copied as of one
            instant, in one PostgreSQL transaction that commits only when each table's row count equals the
            source's: on any failure the target is left as it was. Stop `vigil serve` and `vigil notify` first:
            what they store after the copy's instant is not copied. The password is read from --password-file
            (never from the URL). Progress goes to stderr; the copied counts to stdout.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(
        help: ArgumentHelp(
            "The target: postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require] (default require).",
            valueName: "url"))
    var to: String

    @Option(help: ArgumentHelp("A file holding the password (mode 0600 or 0640).", valueName: "file"))
    var passwordFile: String?

    func run() async throws {
        let config = try options.load()
        let target: PostgresTarget
        let snapshot: StoreSnapshot
        do {
            target = try PostgresTarget(url: to, passwordFile: passwordFile)
        } catch {
            throw fail(error)
        }
        do {
            snapshot = try StoreSnapshot(path: config.databasePath)
        } catch {
            throw fail(error)
        }
        defer { snapshot.close() }
        var logger = Logger(label: "vigil.store")
        logger.logLevel = .error
        let copied: [StoreMigration.Copied]
        do {
            printError("migrating \(config.databasePath) to \(target)")
            var shown: Int64 = 0
            copied = try await StoreMigration.run(from: snapshot, to: target, logger: logger) { table, copied, rows in
                // Each table's end, and a long table's progress once a second.
                let now = SystemClock.monotonicMicroseconds()
                guard copied == rows || now - shown >= 1_000_000 else { return }
                shown = now
                printError("\(table): \(copied) of \(rows) rows")
            }
        } catch let error as any ExitStatusProviding {
            throw fail(error)
        }
        for table in copied {
            print("\(table.table.padding(toLength: 14, withPad: " ", startingAt: 0)) \(table.rows)")
        }
        printError("done: \(copied.reduce(0) { $0 + $1.rows }) rows in \(copied.count) tables, each count verified")
    }
}
