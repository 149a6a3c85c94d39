import ArgumentParser
import Foundation
import VigilBench
import VigilShell

extension Bench {
    /// `vigil bench replay`.
    struct ReplayBenchCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay",
            abstract:
                "Check-ins/min replayed by vigil replay's engine vs. the rules and scores alone (its floor), on a generated history."
        )

        @OptionGroup var options: ConfigOptions

        @Option(help: "Clients in the generated history.")
        var clients = 5_000

        @Option(help: "Check-ins per client (one every 4 hours or so).")
        var events = 100

        func validate() throws {
            guard clients > 0, events > 0 else { throw ValidationError("--clients and --events must be positive") }
        }

        func run() throws {
            let config = try options.load()
            let pack = try loadRulePack(config)
            var population = RulesBench(pack: pack) { printError($0) }
            population.clients = clients
            population.eventsPerClient = events
            let report = ReplayBench(population: population).run()
            func rate(_ seconds: Double) -> String { String(format: "%12.0f", Double(report.checkIns) / seconds * 60) }
            print(
                "vigil bench replay: \(clients) clients x \(events) check-ins (\(report.checkIns) check-ins, "
                    + "\(report.escalations) escalations, \(report.tasks) tasks), one commit each, in memory")
            print(
                "    replay  \(rate(report.replaySeconds)) check-ins/min  (\(String(format: "%.3f", report.replaySeconds)) s; target >= 1000000/min)"
            )
            print(
                "    floor   \(rate(report.floorSeconds)) check-ins/min  (\(String(format: "%.3f", report.floorSeconds)) s: rules and scores alone)"
            )
            print(
                "    ratio   \(String(format: "%.2f", report.replaySeconds / report.floorSeconds))x the floor")
        }
    }
}
