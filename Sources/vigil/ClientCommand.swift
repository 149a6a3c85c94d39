import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil client show CLIENT`: why a client is scored as it is.
struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Explain a client's risk score; list the caseload.",
        subcommands: [Show.self, List.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "The caseload: clients with their tier, open tasks, plan and caring-contact program, most urgent first.",
            discussion: """
                Sorted by tier (the latest observation's, or the open episode's when it holds higher), then by
                the earliest due open task. --json prints an array with the stable keys documented in the
                README (client, tier, score, scored_at, episode_tier, domains, open_tasks, next_due,
                plan_age_days, program, watch_until).
                """)

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Print JSON (stable keys, documented in the README).")
        var json = false

        @Option(help: "Only clients at this tier or above (low, moderate, high, imminent).")
        var tier: String = "low"

        @Flag(help: "Only clients on the step-down watch.")
        var watch = false

        @Option(name: .customLong("as-of"), help: "As of this RFC 3339 time instead of now.")
        var asOf: String?

        func validate() throws {
            guard Tier(rawValue: tier) != nil else {
                throw ValidationError("--tier must be low, moderate, high or imminent, not '\(tier)'")
            }
        }

        func run() throws {
            let minimum = Tier(rawValue: tier) ?? .low
            let config = try options.load()
            let now = try parseAsOf(asOf)
            let lines: [CaseloadLine]
            do {
                lines = try StoreViewsOpening.configured(config, Logger(label: "vigil-client"))().caseload(
                    at: now, minimum: minimum, watchOnly: watch)
            } catch let error as any ExitStatusProviding {
                throw fail(error)
            }
            if json {
                print(JSONOutput.text(lines))
                return
            }
            print(
                ["client", "tier", "episode", "tasks", "next due", "plan", "program", "watch until"].enumerated().map {
                    $1.padding(toLength: [20, 10, 10, 7, 29, 8, 24, 0][$0], withPad: " ", startingAt: 0)
                }.joined())
            for line in lines {
                let fields = [
                    line.client, line.tier, line.episodeTier ?? "-", "\(line.openTasks)", line.nextDue ?? "-",
                    line.planAgeDays.map { "\($0)d" } ?? "none", line.program ?? "-", line.watchUntil ?? "-",
                ]
                print(
                    fields.enumerated().map {
                        $1.padding(
                            toLength: max([20, 10, 10, 7, 29, 8, 24, 0][$0], $1.count + 1), withPad: " ", startingAt: 0)
                    }.joined())
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score, tier, every contributing firing and recent events of a client (never the note).",
            discussion: """
                The score is computed at --as-of (default now) from the stored firings, decayed to that
                instant, with the scoring policy (domains, caps, thresholds, the acute marker, the hold) of the
                rule set that evaluated the client's latest event. --json prints an object with the stable keys
                documented in the README (client, as_of, score, tier, held_until, acute, domains, firings,
                last_evaluation, events).
                """)

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Print JSON (stable keys, documented in the README).")
        var json = false

        @Option(name: .customLong("as-of"), help: "Score the client as of this RFC 3339 time instead of now.")
        var asOf: String?

        @Option(help: "How many of the client's latest events to list.")
        var events = 10

        @Argument(help: "The client's pseudonymous id.")
        var client: String

        func run() throws {
            guard CheckInDecoder.isClientID(client) else {
                printError("not a pseudonymous client id (letters, digits, . _ -, at most 64): refused")
                throw ExitCode(ExitStatus.dataError.rawValue)
            }
            let config = try options.load()
            let now = try parseAsOf(asOf)
            let found: ClientReport?
            do {
                found = try StoreViewsOpening.configured(config, Logger(label: "vigil-client"))().clientReport(
                    client: client, at: now, recent: max(0, events))
            } catch let error as any ExitStatusProviding {
                throw fail(error)
            }
            guard let report = found else {
                printError("no check-in of client \(client) is stored")
                throw ExitCode(ExitStatus.noInput.rawValue)
            }
            if json {
                print(JSONOutput.text(report))
            } else {
                print(Self.text(report))
            }
        }

        static func text(_ report: ClientReport) -> String {
            func number(_ value: Double) -> String { String(format: "%.1f", value) }
            var lines = [
                "client  \(report.client)",
                "as of   \(report.asOf)",
                "score   \(number(report.score))   tier \(report.tier)"
                    + (report.heldUntil.map { "   (held until \($0))" } ?? "") + (report.acute ? "   acute" : ""),
                "",
            ]
            let width = max(8, report.domains.map(\.domain.count).max() ?? 0) + 2
            lines.append(
                "  " + "domain".padding(toLength: width, withPad: " ", startingAt: 0)
                    + "score  tier      what we noticed")
            for domain in report.domains {
                let name = domain.domain.padding(toLength: width, withPad: " ", startingAt: 0)
                let score = number(domain.score).padding(toLength: 6, withPad: " ", startingAt: 0)
                let tier = domain.tier.padding(toLength: 9, withPad: " ", startingAt: 0)
                lines.append("  \(name)\(score) \(tier) \(domain.noticed.joined(separator: ", "))")
            }
            lines += [
                "",
                report.firings.isEmpty
                    ? "nothing noticed that still counts" : "what we noticed, still counting (newest first):",
            ]
            for line in report.firings {
                var text =
                    "  \(line.at)  \(line.rule) (\(line.domain))  weight \(number(line.weightAtFiring)) -> \(number(line.weight)) now"
                if let floor = line.floor { text += "  floor \(floor)" }
                text += "  event \(line.event ?? "(absence)")"
                lines += [text, "      \(line.summary)"]
            }
            if let until = report.watchUntil {
                lines += ["", "on the step-down watch until \(until) (tier thresholds lowered after a high episode)"]
            }
            lines.append("")
            if let plan = report.plan {
                lines.append(
                    "recovery plan of \(plan.at) (\(plan.ageDays) days old); pathway \(plan.pathway.joined(separator: ", "))"
                )
                if !plan.warningSigns.isEmpty {
                    lines.append("  own warning signs: \(plan.warningSigns.joined(separator: ", "))")
                }
                if !plan.triggers.isEmpty { lines.append("  own triggers: \(plan.triggers.joined(separator: ", "))") }
                for entry in plan.support {
                    lines.append(
                        "  support: \(entry.role) \(entry.ref) by \(entry.channel)"
                            + (entry.hours.map { " \($0)" } ?? ""))
                }
                lines.append("  caring contacts: \(plan.caringContacts)")
            } else {
                lines.append("no recovery plan")
            }
            if let program = report.program {
                var text =
                    "caring-contact program \(program.number) started \(program.started): \(program.sent) sent, \(program.remaining) remaining"
                if let next = program.nextContact { text += ", next \(next)" }
                if let stopped = program.stoppedAt { text += "; stopped \(stopped): \(program.stopReason ?? "")" }
                lines.append(text)
            }
            lines += ["", report.events.isEmpty ? "no events" : "recent events (newest first):"]
            for event in report.events {
                var text = "  \(event.at)  \(event.id)  \(event.kind)/\(event.source)"
                if let score = event.score, let tier = event.tier { text += "  score \(number(score)) (\(tier))" }
                if !event.fired.isEmpty { text += "  fired \(event.fired.joined(separator: ", "))" }
                lines.append(text)
            }
            return lines.joined(separator: "\n")
        }
    }
}
