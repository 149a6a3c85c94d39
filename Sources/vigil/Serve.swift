import ArgumentParser
import Glibc
import Logging
import VigilCore
import VigilShell

/// `vigil serve`: the daemon.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ingest check-ins from the spool into the store until SIGTERM (SIGHUP reloads).")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Where logs go: auto (the journal under systemd, else stderr), journal or stderr.")
    var log: LogSetup.Target = .auto

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() throws {
        // Before any thread exists, so every thread inherits the blocked signals.
        let signals: SignalFD
        do {
            signals = try SignalFD([SIGTERM, SIGINT, SIGHUP])
        } catch {
            printError("\(error)")
            throw ArgumentParser.ExitCode(ExitStatus.software.rawValue)
        }
        LogSetup.bootstrap(log, level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "vigil")
        let config = try options.load()
        let explicitPath = options.config
        let daemon = Daemon(
            config: config,
            loadConfig: { () throws(SourceErrors) in try VigilConfig.resolve(explicitPath: explicitPath) },
            signals: signals, clock: runningClock(logger), logger: logger)
        do {
            try daemon.run()
        } catch {
            logger.log(.critical, .stopping, "vigil cannot start", ["error": "\(error)"])
            if log != .stderr { printError("\(error)") }
            throw ArgumentParser.ExitCode(error.exitStatus.rawValue)
        }
    }
}

extension LogSetup.Target: ExpressibleByArgument {}

/// The system clock, or the time suite's shifted clock (logged loudly when it is in use).
func runningClock(_ logger: Logger) -> any WallClock {
    let (clock, shifted) = ShiftedClock.fromEnvironment()
    if shifted {
        logger.log(
            .critical, .started,
            "\(ShiftedClock.variable) is set: this process runs on a shifted test clock (never in production)")
    }
    return clock
}
