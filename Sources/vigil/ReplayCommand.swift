import ArgumentParser
import Foundation
import Glibc
import Logging
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil replay`: a candidate rule pack over the stored check-ins, with the daemon's evaluator, in
/// memory (nothing is written to the store).
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay the stored check-ins through a candidate rule pack, in memory, and compare it with another.",
        discussion: """
            Each commit's check-ins are evaluated at the commit's time, as the daemon met them; silences of
            absent: rules are decided at their deadlines. Prints the load per day (escalations by tier and domain,
            tasks by kind, route and domain), per rule how often it fired and was decisive for a rise, the lead time
            before overdoses, ED visits and crisis calls, and the burden figure; and the differences from
            --against (default: the configured rules). See docs/replay.md.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: ArgumentHelp("The candidate rules directory.", valueName: "dir"))
    var rules: String

    @Option(help: ArgumentHelp("The pack to compare with (default: the configured rules).", valueName: "dir"))
    var against: String?

    @Option(help: "Count from this RFC 3339 time (earlier check-ins are replayed, not counted).")
    var from: String?

    @Option(help: "Replay and count up to this RFC 3339 time.")
    var to: String?

    @Option(help: "Replay this client only.")
    var client: String?

    @Flag(help: "Print JSON (see docs/replay.md).")
    var json = false

    @Flag(help: "With --json, add every evaluation and task the candidate decided, as the daemon stores them.")
    var decisions = false

    func run() throws {
        if let client, !CheckInDecoder.isClientID(client) {
            printError("--client: not a pseudonymous client id (letters, digits, . _ -, at most 64): refused")
            throw ExitCode(64)
        }
        let config = try options.load()
        let window = ReplayWindow(from: try parseTime(from, option: "--from"), to: try parseTime(to, option: "--to"))
        let candidate = try pack(rules)
        let baselineDirectory = against ?? config.rules
        let baseline = try pack(baselineDirectory)
        let history: StoredHistory
        do {
            history = try StoreViewsOpening.configuredForHistory(config, Logger(label: "vigil-replay"))().history(
                client: client, through: window.to)
        } catch let error as any ExitStatusProviding {
            throw fail(error)
        }
        let total = history.events.count
        let showProgress = isatty(STDERR_FILENO) == 1
        let started = Date()
        var replayer = Replayer(evaluator: candidate.evaluator)
        replayer.keepsEvaluations = decisions
        let run = replayer.run(history.events, until: window.to) { done in
            if showProgress { FileHandle.standardError.write(Data("\rreplayed \(done) of \(total) check-ins".utf8)) }
        }
        let seconds = Date().timeIntervalSince(started)
        if showProgress { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
        let other = Replayer(evaluator: baseline.evaluator).run(history.events, until: window.to)
        let end = window.to ?? history.events.last?.committedAt ?? Timestamp(microseconds: 0)
        let summary = ReplaySummary(
            rules: rules, from: window.from?.description, to: window.to?.description, client: client,
            checkIns: total, clients: run.clients, undecodable: history.undecodable, seconds: seconds,
            checkInsPerMinute: seconds > 0 ? Double(total) / seconds * 60 : 0,
            candidate: run.figures(in: window, end: end),
            comparison: run.compared(with: other, rules: baselineDirectory, in: window, end: end),
            decisions: decisions ? run.decisions : nil)
        print(json ? JSONOutput.text(summary) : ReplayText.render(summary))
    }

    private func pack(_ directory: String) throws -> RulePack {
        do {
            return try RulePack.load(directory: directory)
        } catch {
            throw fail(error)
        }
    }
}

/// An RFC 3339 option's value (nil when not given); exit 64 naming `option` when it is not one.
func parseTime(_ text: String?, option: String) throws -> Timestamp? {
    guard let text else { return nil }
    do {
        return try RFC3339.parse(text)
    } catch {
        printError("\(option): not an RFC 3339 time: \(error.problem)")
        throw ExitCode(64)
    }
}

/// The text form of a `ReplaySummary`.
enum ReplayText {
    static func render(_ summary: ReplaySummary) -> String {
        var lines = [
            "replay of \(summary.checkIns) check-ins of \(summary.clients) clients through \(summary.rules)"
                + (summary.undecodable > 0 ? " (\(summary.undecodable) stored bodies no longer decode: skipped)" : ""),
            String(
                format: "rate    %.0f check-ins/min (%.3f s; target >= 1000000/min, see vigil bench replay)",
                summary.checkInsPerMinute, summary.seconds),
        ]
        if summary.from != nil || summary.to != nil {
            lines.append("window  \(summary.from ?? "start") .. \(summary.to ?? "end")")
        }
        lines += figures(summary.candidate, title: "candidate \(summary.rules)")
        if let comparison = summary.comparison {
            lines += figures(comparison.against, title: "against \(comparison.rules)")
            lines += [
                "", "difference (candidate vs. against)",
                "  escalated only by the candidate: \(list(comparison.onlyCandidate))",
                "  escalated only by the other:     \(list(comparison.onlyAgainst))",
                "  first escalation earlier: \(shifts(comparison.earlier))",
                "  first escalation later:   \(shifts(comparison.later))",
                "  tasks gained \(comparison.tasksGained) \(counts(comparison.gainedByKind)), lost \(comparison.tasksLost) \(counts(comparison.lostByKind))",
            ]
        }
        return lines.joined(separator: "\n")
    }

    static func figures(_ figures: ReplaySummary.Figures, title: String) -> [String] {
        var lines = ["", title, "  escalations \(figures.escalations), tasks \(figures.tasks)"]
        for day in figures.days {
            lines.append(
                "  \(day.day)  escalations \(counts(day.escalations)) (domains \(counts(day.escalationsByDomain)))"
                    + "  tasks \(counts(day.tasksByKind))  routes \(counts(day.tasksByRoute))"
                    + "  task domains \(counts(day.tasksByDomain))"
            )
        }
        lines.append("  rules (fired / decisive for a rise):")
        for rule in figures.rules { lines.append("    \(rule.rule)  \(rule.fired) / \(rule.decisive)") }
        let lead = figures.leadTime
        lines.append(
            "  lead time: \(lead.outcomes) outcomes (\(counts(lead.byKind))), \(lead.raisedBefore) raised to moderate or above within 30 days before, \(lead.notRaised) not"
                + (lead.medianHours.map { String(format: "; median %.1f h", $0) } ?? ""))
        lines.append("    distribution \(counts(lead.distribution))")
        let burden = figures.burden
        lines.append(
            "  burden: \(burden.followedByNoOutcome) of \(burden.escalations) escalations followed by no outcome within 30 days"
                + (burden.share.map { String(format: " (%.0f %%)", $0 * 100) } ?? "")
                + " (\(burden.tooRecent) too recent to tell)")
        return lines
    }

    static func counts(_ values: [String: Int]) -> String {
        values.isEmpty ? "-" : values.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    static func list(_ clients: [String]) -> String { clients.isEmpty ? "-" : clients.joined(separator: ", ") }

    static func shifts(_ shifts: [ReplaySummary.Shift]) -> String {
        shifts.isEmpty
            ? "-"
            : shifts.map { "\($0.client) \(String(format: "%.1f", abs($0.hoursEarlier))) h" }.joined(separator: ", ")
    }
}
