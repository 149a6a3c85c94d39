import ArgumentParser
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil notify`: the notifier worker.
struct Notify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deliver due tasks from the queue to the team's channels until SIGTERM.",
        discussion: """
            Channels and routes come from the `notifier:` section of the configuration (see the README);
            without one, every task is written to the journal. Runs beside `vigil serve`, on the same state
            directory. --once delivers what is due now and exits. --as-of (with --once) acts as if now
            were that time: it delivers what is due by then and raises the overdue escalations then due,
            for real; leases still follow the real clock.
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Deliver what is due now, wait for those deliveries, then exit.")
    var once = false

    @Option(
        name: .customLong("as-of"),
        help:
            "With --once: act as if now were this RFC 3339 time (tasks due by then are delivered, overdue escalations raised). For drills and tests."
    )
    var asOf: String?

    @Option(help: "Where logs go: auto (the journal under systemd, else stderr), journal or stderr.")
    var log: LogSetup.Target = .auto

    func validate() throws {
        guard asOf == nil || once else { throw ValidationError("--as-of needs --once") }
    }

    func run() async throws {
        let clock: any WallClock = try asOf.map { FixedClock(time: try parseAsOf($0)) } ?? SystemClock()
        let status = await NotifierDaemon.main(
            configPath: options.config, once: once, log: log, clock: { _ in clock }, openStore: NotifierStore.configured
        )
        guard status == .ok else { throw ExitCode(status.rawValue) }
    }
}

/// A clock stopped at one instant (`--as-of`).
struct FixedClock: WallClock {
    let time: Timestamp
    func now() -> Timestamp { time }
}
