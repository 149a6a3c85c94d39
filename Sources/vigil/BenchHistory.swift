import ArgumentParser
import Foundation
import VigilBench
import VigilCore
import VigilShell

extension Bench {
    /// `vigil bench history`.
    struct HistoryCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Write a seeded, synthetic history of a caseload into a new store (DIR/state/vigil.sqlite).",
            discussion: """
                SYNTHETIC: generated check-ins (routine check-ins, stressor cascades, screenings, missed
                appointments, crisis calls, ED visits, overdoses, contacts that reach or miss) at plausible,
                not measured, rates, committed hour by hour through the store with the daemon's decision
                stage and the configured rules. For trying vigil replay without real data: point a
                configuration's state: at DIR/state. See docs/replay.md.
                """)

        @OptionGroup var options: ConfigOptions

        @Option(help: "Clients in the caseload.")
        var clients = 2_000

        @Option(help: "Days of history, ending at the start of the current hour.")
        var days = 90

        @Option(help: "The seed: the same seed, size and rules write the same check-ins.")
        var seed: UInt64 = 1

        @Option(help: ArgumentHelp("Where to write it: DIR/state/vigil.sqlite (must not exist).", valueName: "dir"))
        var dir: String

        func validate() throws {
            guard clients > 0, days > 0 else { throw ValidationError("--clients and --days must be positive") }
        }

        func run() throws {
            let config = try options.load()
            let pack = try loadRulePack(config)
            var bench = HistoryBench(directory: dir, pack: pack) { printError($0) }
            bench.clients = clients
            bench.days = days
            bench.seed = seed
            let now = SystemClock().now().microseconds
            let hour = TimeSpan.hours(1).microseconds
            let report = try bench.run(endingAt: Timestamp(microseconds: now - now % hour))
            let kinds = report.byKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print(
                "vigil bench history: SYNTHETIC history of \(clients) clients over \(days) days (seed \(seed)): "
                    + "\(report.checkIns) check-ins (\(kinds.joined(separator: ", "))) in \(report.database)")
        }
    }
}
