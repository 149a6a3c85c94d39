import ArgumentParser
import VigilCore
import VigilShell

/// `vigil rules …`: tooling for the warning-sign rule pack.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Check and test the warning-sign rule pack.",
        subcommands: [Check.self, Test.self])

    /// `vigil rules check [DIR]`.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load, type-check and compile a rules directory; print every error as FILE:LINE:COL: message.",
            discussion: "Exit 0 when the pack is sound, 1 with every error otherwise.")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The rules directory (default: the configuration's `rules`).")
        var directory: String?

        @Flag(help: "Also refuse a vocabulary code that no rule reads and `unscored:` does not explain.")
        var strict = false

        func run() throws {
            let path = try directory ?? options.load().rules
            do {
                let pack = try RulePack.load(directory: path)
                if strict { try pack.checkEveryCodeIsExplained(directory: path) }
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

    /// `vigil rules test FILE…`.
    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run rule test files: event sequences and the firings, score and tier expected of them.",
            discussion: "Prints every failing expectation with what it got and what it wanted; exit 1 on any failure.")

        @OptionGroup var options: ConfigOptions

        @Option(name: .customLong("rules"), help: "The rules directory (default: the configuration's `rules`).")
        var rulesDirectory: String?

        @Argument(help: "Test files (YAML), or directories: each one's .yaml files, in name order.")
        var files: [String]

        func run() throws {
            let directory = try rulesDirectory ?? options.load().rules
            let pack: RulePack
            do {
                pack = try RulePack.load(directory: directory)
            } catch {
                for message in error.messages { printError(message) }
                throw ArgumentParser.ExitCode(1)
            }
            var report = RuleTests.Report()
            var broken = 0
            let files = self.files.flatMap(RuleTests.files(in:))
            for file in files {
                do {
                    try RuleTests.run(path: file, pack: pack, into: &report)
                } catch {
                    broken += 1
                    printError("\(error)")
                }
            }
            for failure in report.failures { print("FAILED \(failure)") }
            let uncovered = Set(pack.ruleSet.rules.map(\.id)).subtracting(report.covered).sorted()
            if !uncovered.isEmpty {
                print("uncovered rules (no test expects them to fire): \(uncovered.joined(separator: ", "))")
            }
            print(
                "\(report.tests) tests, \(report.expectations) expectations in \(files.count) files: "
                    + "\(report.failures.count) failed\(broken > 0 ? ", \(broken) files not run (above: why)" : "")")
            if !report.failures.isEmpty || broken > 0 { throw ArgumentParser.ExitCode(1) }
        }
    }
}
