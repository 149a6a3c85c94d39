import ArgumentParser
import Foundation
import Glibc
import VigilBench
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil bench …`: benchmarks that print each figure next to its floor, measured in the same run.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Vigil against the floor of the machine it runs on.",
        subcommands: [
            IngestCommand.self, RulesBenchCommand.self, EndToEndCommand.self, ReplayBenchCommand.self,
            HistoryCommand.self,
        ])

    /// `vigil bench ingest`.
    struct IngestCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ingest",
            abstract:
                "Durable ingest rate, each figure beside its floor: (a) one check-in per .json file, (b) .jsonl batches of a caseload where every client rises, (c) a realistic mix, (d) one dense client."
        )

        @OptionGroup var options: ConfigOptions

        @Option(help: "Where to build the throwaway spools and stores (default: STATE/bench, on the state's disk).")
        var dir: String?

        @Option(help: "Check-in files per round for (a).")
        var files = 5_000

        @Option(help: "Batch files per round for (b) and (c).")
        var batches = 50

        @Option(name: .customLong("batch-size"), help: "Check-ins per batch file for (b) and (c).")
        var batchSize = 1_000

        @Option(help: "Rounds; the median of each figure is reported.")
        var rounds = 3

        @Option(help: "Check-ins for (d): one client's within 28 h, against as many clients' (0 skips it).")
        var dense = 10_000

        @Option(
            help:
                "sqlite, or postgres: also ingest (b) and (c) into scratch databases created on the configuration's PostgreSQL server (store.url; dropped afterwards)."
        )
        var store: BenchStore = .sqlite

        func validate() throws {
            guard files > 0, batches > 0, batchSize > 0, rounds > 0, dense >= 0 else {
                throw ValidationError(
                    "--files, --batches, --batch-size and --rounds must be positive, --dense not negative")
            }
        }

        func run() async throws {
            let config = try options.load()
            let pack = try loadRulePack(config)
            let directory = dir ?? config.state + "/bench"
            var bench = IngestBench(directory: directory, pack: pack) { printError($0) }
            bench.files = files
            bench.batches = batches
            bench.batchSize = batchSize
            bench.rounds = rounds
            bench.denseEvents = dense
            var scratch: PostgresScratch?
            if store == .postgres {
                let created = try await PostgresScratch.create(config, databases: 2 * rounds) { printError($0) }
                bench.other = created.ingestStores()
                scratch = created
            }
            let report: IngestBench.Report
            do {
                report = try bench.run()
                await scratch?.drop()
            } catch {
                await scratch?.drop()
                throw error
            }
            let single = report.median(\.singleSeconds)
            let floor = report.median(\.floorSeconds)
            let batch = report.median(\.batchSeconds)
            func rate(_ count: Int, _ seconds: Double) -> String { String(format: "%9.0f", Double(count) / seconds) }
            print(
                "vigil bench ingest: \(report.files) files and \(report.batchEvents) batched check-ins per round, "
                    + "\(report.rounds.count) rounds (medians), width \(report.width), in \(directory); "
                    + "\(pack.ruleSet.rules.count) rules evaluated and stored with every check-in")
            print("(a) one check-in per .json file, durable")
            print("    vigil  \(rate(report.files, single)) check-ins/s  (\(String(format: "%.3f", single)) s)")
            print(
                "    floor  \(rate(report.files, floor)) files/s      (\(String(format: "%.3f", floor)) s: list, open, read, unlink, pipelined)"
            )
            print("    ratio  \(String(format: "%.2f", single / floor))x the floor (target <= 1.30x)")
            for (label, vigil, floor, copy) in [
                (
                    "(b) .jsonl batches of \(batchSize), 500 clients, every one rising", batch,
                    report.median(\.batchFloorSeconds), report.median(\.batchCopySeconds)
                ),
                (
                    "(c) .jsonl batches of \(batchSize), a realistic mix: 90 % routine from 5000 clients, 10 % rising",
                    report.median(\.mixSeconds), report.median(\.mixFloorSeconds), report.median(\.mixCopySeconds)
                ),
            ] {
                print(label + ", durable")
                print(
                    "    vigil  \(rate(report.batchEvents, vigil)) check-ins/s  (\(String(format: "%.3f", vigil)) s; target >= 50000/s)"
                )
                print(
                    "    floor  \(rate(report.batchEvents, floor)) check-ins/s  (\(String(format: "%.3f", floor)) s: the same rows bulk inserted, prepared statements)"
                )
                print("    ratio  \(String(format: "%.2f", vigil / floor))x the floor (target <= 2.00x)")
                print(
                    "    copy   \(rate(report.batchEvents, copy)) check-ins/s  (\(String(format: "%.3f", copy)) s: the same rows copied by SQLite, INSERT ... SELECT)"
                )
                print(
                    "    ratio  \(String(format: "%.2f", vigil / copy))x the copy (a stricter reference: no ingest can copy its rows)"
                )
                if let other = label.hasPrefix("(b)")
                    ? report.measuredMedian(\.otherBatchSeconds) : report.measuredMedian(\.otherMixSeconds)
                {
                    print(
                        "    postgres \(rate(report.batchEvents, other)) check-ins/s  (\(String(format: "%.3f", other)) s into \(scratch?.server ?? "PostgreSQL"), one node; target >= 10000/s)"
                    )
                    print("    ratio  \(String(format: "%.2f", other / vigil))x SQLite's")
                }
            }
            guard dense > 0 else { return }
            let denseSeconds = report.median(\.denseSeconds)
            let spread = report.median(\.spreadSeconds)
            print("(d) \(dense) check-ins in one batch: one client's (10 s apart) vs. \(dense) clients' (the floor)")
            print("    one client   \(String(format: "%.3f", denseSeconds)) s")
            print("    \(dense) clients \(String(format: "%.3f", spread)) s")
            print(
                "    ratio  \(String(format: "%.2f", denseSeconds / spread))x the floor (target <= 1.50x: linear in a client's events)"
            )
        }
    }

    /// `vigil bench rules`.
    struct EndToEndCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "e2e",
            abstract:
                "From spool drop to webhook delivery under sustained load: events/s, tasks delivered/s, p50/p99 latency."
        )

        @OptionGroup var options: ConfigOptions

        @Option(help: "Where to build the throwaway spool and store (default: STATE/bench-e2e).")
        var dir: String?

        @Option(help: "Check-ins submitted per second.")
        var rate = 500

        @Option(help: "How long to submit, in seconds.")
        var seconds = 20

        @Option(help: "Percent of check-ins that escalate (each raises a new client to imminent).")
        var escalating = 10

        @Option(help: "Clients the routine check-ins come from, in turn (the caseload).")
        var clients = 100_000

        @Option(help: "Also write the per-second samples (RSS in KiB of both processes, backlog) to this CSV file.")
        var samples: String?

        @Option(
            help:
                "sqlite, or postgres: after the SQLite single node, the same load on --nodes nodes sharing a scratch database on the configuration's PostgreSQL server (dropped afterwards)."
        )
        var store: BenchStore = .sqlite

        @Option(help: "Nodes (a vigil serve and a vigil notify each, its own spool) with --store postgres.")
        var nodes = 3

        func validate() throws {
            guard rate > 0, seconds > 0, clients > 0, nodes > 0, (1...100).contains(escalating) else {
                throw ValidationError(
                    "--rate, --seconds, --clients and --nodes must be positive, --escalating 1 to 100")
            }
        }

        func run() async throws {
            signal(SIGPIPE, SIG_IGN)
            let config = try options.load()
            _ = try loadRulePack(config)
            let directory = dir ?? config.state + "/bench-e2e"
            let binary =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0]
            var bench = EndToEndBench(directory: directory, rules: config.rules, binary: binary) { printError($0) }
            bench.rate = rate
            bench.seconds = seconds
            bench.escalatingPercent = escalating
            bench.clients = clients
            let report = try bench.run()
            print(
                "vigil bench e2e: \(report.submitted) check-ins at \(rate)/s for \(seconds) s from \(clients) clients, \(escalating)% escalating, in \(directory); "
                    + "real vigil serve + vigil notify, webhook receiver on loopback")
            try show(report, samplesFile: samples)
            guard store == .postgres else { return }
            let scratch = try await PostgresScratch.create(config, databases: 1) { printError($0) }
            do {
                bench.nodes = nodes
                bench.sharedStore = try scratch.sharedStore()
                let cluster = try bench.run()
                await scratch.drop()
                print(
                    "the same on \(nodes) nodes (a vigil serve and a vigil notify each, its own spool, check-ins to each in turn) sharing PostgreSQL at \(scratch.server):"
                )
                try show(
                    cluster, samplesFile: nil, target: "target p99 < 1000 ms at 500 check-ins/s or more", within: 1000,
                    atLeast: 500)
            } catch {
                await scratch.drop()
                throw error
            }
        }

        /// Prints a run's figures; `within` is the p99 target in milliseconds, met only when
        /// `atLeast` check-ins/s or more were submitted (the rate reached, not the one asked for).
        func show(
            _ report: EndToEndBench.Report, samplesFile samples: String?, target: String = "target p99 <= 100 ms",
            within: Double = 100, atLeast minimumRate: Int = 0
        ) throws {
            typealias R = EndToEndBench.Report
            func ms(_ value: Double) -> String { String(format: "%7.1f ms", value) }
            let p50 = R.percentile(report.latencies, 0.50)
            let p99 = R.percentile(report.latencies, 0.99)
            let floor99 = R.percentile(report.floor, 0.99)
            let submittedRate = Double(report.submitted) / report.submitSeconds
            print(
                String(
                    format: "    events       %8.0f check-ins/s submitted (%d submitted, %d stored)",
                    submittedRate, report.submitted, report.stored))
            print(
                String(
                    format: "    tasks        %8.0f delivered/s (%d of %d escalations delivered, %d requests)",
                    Double(report.delivered) / report.drainSeconds, report.delivered, report.escalations,
                    report.requests))
            print(
                "    latency      p50 \(ms(p50))  p99 \(ms(p99))  max \(ms(report.latencies.last ?? .nan))  (spool drop to delivery)"
            )
            print(
                "    floor        p50 \(ms(R.percentile(report.floor, 0.5)))  p99 \(ms(floor99))  (a plain POST to the same receiver)"
            )
            for (name, field) in [("serve ", \R.Sample.serveRSS), ("notify", \R.Sample.notifyRSS)] {
                let (warm, late, percent) = report.growth(field)
                print(
                    "    memory       \(name) RSS \(String(format: "%.1f", Double(warm) / 1024)) MiB at most warmed up, "
                        + "\(String(format: "%.1f", Double(late) / 1024)) MiB at most in the last quarter "
                        + "(\(String(format: "%+.1f", percent)) %)")
            }
            let backlogs = report.samples.map(\.backlog)
            if let samples {
                let rows = report.samples.enumerated().map { "\($0),\($1.serveRSS),\($1.notifyRSS),\($1.backlog)" }
                try (["second,serve_rss_kib,notify_rss_kib,backlog"] + rows).joined(separator: "\n")
                    .appending("\n").write(toFile: samples, atomically: true, encoding: .utf8)
            }
            print(
                "    backlog      at most \(backlogs.max() ?? 0) files in new/, \(backlogs.last ?? 0) at the last sample (each second)"
            )
            print(
                String(
                    format: "    ratio        p99 %.0fx the floor; %@: %@", p99 / floor99, target,
                    p99 <= within && submittedRate.rounded() >= Double(minimumRate)
                        && report.delivered == report.escalations
                        && report.stored == report.submitted ? "met" : "NOT met"))
        }
    }

    struct RulesBenchCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rules",
            abstract:
                "Rule evaluations/s of the engine vs. the same rules hand-written in Swift; cost per event vs. history length."
        )

        @OptionGroup var options: ConfigOptions

        @Option(help: "Clients in the generated population.")
        var clients = 10_000

        @Option(help: "Events per client.")
        var events = 200

        func validate() throws {
            guard clients > 0, events > 0 else { throw ValidationError("--clients and --events must be positive") }
        }

        func run() throws {
            let config = try options.load()
            let pack = try loadRulePack(config)
            var bench = RulesBench(pack: pack) { printError($0) }
            bench.clients = clients
            bench.eventsPerClient = events
            let report = try bench.run()
            let rules = Double(pack.ruleSet.eventRules.count)
            func rate(_ seconds: Double) -> String { String(format: "%12.0f", Double(report.events) * rules / seconds) }
            print(
                "vigil bench rules: \(pack.ruleSet.eventRules.count) when: rules, \(clients) clients x \(events) events "
                    + "(\(report.events) events, \(report.firings) firings, identical in both)")
            print(
                "    engine        \(rate(report.engineSeconds)) rule evaluations/s  (\(String(format: "%.3f", report.engineSeconds)) s)"
            )
            print(
                "    hand-written  \(rate(report.handSeconds)) rule evaluations/s  (\(String(format: "%.3f", report.handSeconds)) s)"
            )
            print(
                "    ratio  \(String(format: "%.2f", report.engineSeconds / report.handSeconds))x the hand-written floor (target <= 2x)"
            )
            for (length, microseconds) in report.costByHistory {
                print(
                    "    after a history of \(String(length).padding(toLength: 7, withPad: " ", startingAt: 0)) events: \(String(format: "%.2f", microseconds)) us per event"
                )
            }
        }
    }
}
