import ArgumentParser
import Logging
import VigilPostgres
import VigilShell

/// `vigil serve`: the daemon.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ingest check-ins from the spool into the store until SIGTERM (SIGHUP reloads).")

    @OptionGroup var options: ConfigOptions
    @OptionGroup var logging: LogOptions

    func run() async throws {
        let status = await Daemon.main(
            configPath: options.config, log: logging.log, level: logging.level, openStore: DaemonStore.configured)
        guard status == .ok else { throw ExitCode(status.rawValue) }
    }
}

/// Where a long-running process logs, and from which level (`serve`, `api`).
struct LogOptions: ParsableArguments {
    @Option(help: "Where logs go: auto (the journal under systemd, else stderr), journal or stderr.")
    var log: LogSetup.Target = .auto

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    var level: Logger.Level { Logger.Level(rawValue: logLevel) ?? .info }

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }
}

extension LogSetup.Target: ExpressibleByArgument {}
