import ArgumentParser
import Glibc
import VigilCore
import VigilShell

/// The `vigil` command line: one binary for the daemon, its tools and its benchmarks.
@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Crisis-risk scoring and alerting daemon for recovery and crisis teams.",
        version: VigilVersion.current,
        subcommands: [
            Serve.self, Notify.self, APICommand.self, Submit.self, Status.self, ClientCommand.self, QueueCommand.self,
            RulesCommand.self,
            ReplayCommand.self, ReportCommand.self, StoreCommand.self,
            Bench.self,
        ])
}

/// Options every command that reads the configuration shares.
struct ConfigOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The configuration file (default: /etc/vigil/vigil.yaml if it exists, else the embedded default: ./var/spool, ./var/state, ./Rules).",
            valueName: "file"))
    var config: String?

    func load() throws -> VigilConfig {
        if let missing = VigilConfig.missing(explicitPath: config) {
            printError(missing)
            throw ArgumentParser.ExitCode(ExitStatus.config.rawValue)
        }
        do {
            return try VigilConfig.resolve(explicitPath: config)
        } catch {
            throw fail(error)
        }
    }
}

/// The vocabulary of the configured rules directory (exit 78 naming the file on error).
func loadVocabulary(_ config: VigilConfig) throws -> Vocabulary {
    do {
        return try VocabularyFile.load(rulesDirectory: config.rules)
    } catch {
        throw fail(error)
    }
}

/// The configured rule pack (exit 78 with every error on failure).
func loadRulePack(_ config: VigilConfig) throws -> RulePack {
    do {
        return try RulePack.load(directory: config.rules)
    } catch {
        throw fail(error)
    }
}

/// Prints `vigil: ERROR` on stderr and returns the exit code the error deserves.
func fail(_ error: any ExitStatusProviding) -> ArgumentParser.ExitCode {
    printError("\(error)")
    return ArgumentParser.ExitCode(error.exitStatus.rawValue)
}
