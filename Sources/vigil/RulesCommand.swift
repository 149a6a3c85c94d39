import ArgumentParser
import VigilCore
import VigilShell

/// `vigil rules …`: tooling for the warning-sign rule pack.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Check the warning-sign rule pack.", subcommands: [Check.self])

    /// `vigil rules check [DIR]`.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load, type-check and compile a rules directory; print every error as FILE:LINE:COL: message.",
            discussion: "Exit 0 when the pack is sound, 1 with every error otherwise.")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The rules directory (default: the configuration's `rules`).")
        var directory: String?

        func run() throws {
            let path = try directory ?? options.load().rules
            do {
                let pack = try RulePack.load(directory: path)
                let days = Double(pack.ruleSet.lookBack.microseconds) / 86_400e6
                print(
                    "\(path): \(pack.ruleSet.rules.count) rules in \(pack.files.count) files OK; "
                        + "look-back \(days) days; rule set \(pack.hash)")
            } catch {
                for message in error.messages { printError(message) }
                printError("\(path): \(error.messages.count) error\(error.messages.count == 1 ? "" : "s")")
                throw ArgumentParser.ExitCode(1)
            }
        }
    }
}
