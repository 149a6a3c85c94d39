import ArgumentParser
import Logging
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil-testd`: `vigil serve` and `vigil notify` with what only tests inject: a shifted clock
/// and a stalled loop. The same services and stores as the real commands (`Daemon.main`,
/// `NotifierDaemon.main`, SQLite or PostgreSQL); built for the test suites, never installed.
@main
struct VigilTestDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil-testd",
        abstract: "The Vigil daemon and notifier with test-only faults (never in production).",
        subcommands: [Serve.self, Notify.self])
}

/// What both commands take.
struct TestOptions: ParsableArguments {
    @Option var config: String?

    @Option var log: LogSetup.Target = .stderr

    @Option(
        name: .customLong("clock-offset-file"),
        help: "Run on the system clock shifted by the whole seconds in this file (read at every reading).")
    var clockOffsetFile: String?

    /// The shifted clock when asked for, announced loudly; else the system's.
    func clock(_ logger: Logger) -> any WallClock {
        guard let path = clockOffsetFile else { return SystemClock() }
        logger.log(.critical, .started, "this process runs on a shifted test clock (never in production)")
        return ShiftedClock(path: path)
    }
}

extension VigilTestDaemon {
    struct Serve: AsyncParsableCommand {
        @OptionGroup var options: TestOptions

        @Option(name: .customLong("log-level")) var logLevel: String = "info"

        @Flag(
            name: .customLong("stall-after-ready"),
            help: "Stop the ingest loop right after READY=1, so systemd's watchdog kills the daemon.")
        var stallAfterReady = false

        func run() async throws {
            let options = options
            let stall = stallAfterReady
            let status = await Daemon.main(
                configPath: options.config, log: options.log, level: Logger.Level(rawValue: logLevel) ?? .info,
                hooks: { logger in
                    Daemon.Hooks(clock: options.clock(logger)) {
                        guard stall else { return }
                        logger.log(.critical, .stopping, "test fault: the ingest loop stalls now (never in production)")
                        while true { try? await Task.sleep(for: .seconds(3600)) }
                    }
                }, openStore: DaemonStore.configured)
            guard status == .ok else { throw ExitCode(status.rawValue) }
        }
    }

    struct Notify: AsyncParsableCommand {
        @OptionGroup var options: TestOptions

        func run() async throws {
            let options = options
            let status = await NotifierDaemon.main(
                configPath: options.config, once: false, log: options.log, clock: { options.clock($0) },
                openStore: NotifierStore.configured)
            guard status == .ok else { throw ExitCode(status.rawValue) }
        }
    }
}

extension LogSetup.Target: ExpressibleByArgument {}
