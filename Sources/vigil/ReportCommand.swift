import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilPostgres
import VigilShell

/// `vigil report`: the supervisor's report from the store, aggregates only.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Follow-up after ED visits and overdoses (7 and 30 days), after high episodes, time to contact, task outcomes.",
        discussion: """
            Aggregates only: no client id, never the note or any other free text. The definitions are in
            docs/report.md. An index event whose follow-up period has not ended by --to (default now) is
            counted as pending, in neither the numerator nor the denominator.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Count index events, episodes and tasks from this RFC 3339 time.")
    var from: String?

    @Option(help: "... up to this RFC 3339 time (default now).")
    var to: String?

    @Flag(help: "Print JSON (see docs/report.md).")
    var json = false

    @Flag(name: .customLong("by-client"), help: "Also list each client's follow-up (pseudonymous ids).")
    var byClient = false

    @Option(help: ArgumentHelp("Also write the report as one self-contained HTML page.", valueName: "file"))
    var html: String?

    func run() throws {
        let config = try options.load()
        let start = try parseTime(from, option: "--from")
        let end = try parseTime(to, option: "--to") ?? SystemClock().now()
        let report: SupervisorReport
        do {
            report = try StoreViewsOpening.configuredForHistory(config, Logger(label: "vigil-report"))()
                .supervisorReport(
                    from: start, to: end, byClient: byClient)
        } catch let error as any ExitStatusProviding {
            throw fail(error)
        }
        if let html {
            do {
                try Data(ReportHTML.render(report).utf8).write(to: URL(fileURLWithPath: html), options: .atomic)
            } catch {
                printError("--html \(html): cannot write: \(error.localizedDescription)")
                throw ExitCode(ExitStatus.ioError.rawValue)
            }
        }
        print(json ? JSONOutput.text(report) : Self.text(report))
    }

    static func text(_ report: SupervisorReport) -> String {
        func measure(_ name: String, _ measure: SupervisorReport.Measure) -> String {
            let rate = measure.rate.map { String(format: "%5.1f %%", $0 * 100) } ?? "    -  "
            return "  \(name)  \(rate)  (\(measure.numerator) of \(measure.denominator); \(measure.pending) pending)"
        }
        func hours(_ value: Double?) -> String { value.map { String(format: "%.1f h", $0) } ?? "-" }
        let delay = report.escalationToFirstReachedContact
        let tasks = report.tasks
        var lines = [
            "vigil report \(report.from ?? "start") .. \(report.to) (aggregates only)",
            "follow-up after an ED visit or overdose (a reached contact)",
            measure("within 7 days ", report.followUp7Days),
            measure("within 30 days", report.followUp30Days),
            "follow-up after a high or imminent episode opened (a reached contact)",
            measure("within 24 h   ", report.episodeFollowUp24Hours),
            measure("within 72 h   ", report.episodeFollowUp72Hours),
            "episode to first reached contact: median \(hours(delay.medianHours)), p90 \(hours(delay.p90Hours)) "
                + "(\(delay.episodes) episodes, \(delay.never) never reached)",
            "tasks: \(tasks.created) created, \(tasks.overdue) overdue, \(tasks.unreachable) unreachable, "
                + "dead \(tasks.deadByChannel.values.reduce(0, +)), cancelled \(tasks.cancelledSuperseded) superseded, "
                + "\(tasks.cancelledEnded) ended for the client and \(tasks.cancelledByPerson) by a person",
            "caring-contact programs: \(report.programs.started) started, \(report.programs.contactsSent) messages sent, "
                + "\(report.programs.optedOut) opted out",
        ]
        for line in report.clients ?? [] {
            lines.append(
                "  client \(line.client): \(line.indexEvents) ED visits or overdoses, followed within 7 days "
                    + "\(line.followedWithin7Days), within 30 days \(line.followedWithin30Days)")
        }
        for day in report.days {
            let rules = day.firingsByRule.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            let routes = day.tasksByRoute.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            lines.append(
                "  \(day.day)  rules \(rules.joined(separator: ", "))  routes \(routes.joined(separator: ", "))")
        }
        for week in report.weeks {
            func figure(_ measure: SupervisorReport.Measure) -> String { "\(measure.numerator)/\(measure.denominator)" }
            lines.append(
                "  week of \(week.week) (\(week.days) days)  follow-up 7 d \(figure(week.followUp7Days)), "
                    + "30 d \(figure(week.followUp30Days)), 24 h \(figure(week.episodeFollowUp24Hours)), "
                    + "72 h \(figure(week.episodeFollowUp72Hours))  median to contact "
                    + "\(hours(week.escalationToFirstReachedContact.medianHours))  tasks \(week.tasks.created)")
        }
        return lines.joined(separator: "\n")
    }
}
