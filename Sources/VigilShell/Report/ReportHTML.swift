/// `vigil report --html`: the report as one self-contained, printable HTML page: tables and inline
/// SVG charts drawn here, no script, no font or style sheet from elsewhere. The same figures as
/// `--json`; every measure also carries them as `data-` attributes (for tests and tools).
public enum ReportHTML {
    public static func render(_ report: SupervisorReport) -> String {
        var body: [String] = []
        body.append("<h1>Vigil: supervisor's report</h1>")
        body.append(
            "<p class=\"period\">\(escape(report.from ?? "start")) .. \(escape(report.to)). Aggregates only: no client id, no free text.</p>"
        )
        body.append("<h2>Follow-up (a reached contact)</h2>")
        body.append(
            "<table><tr><th>measure</th><th>rate</th><th>numerator</th><th>denominator</th><th>pending</th></tr>")
        for (key, label, measure) in [
            ("follow_up_7_days", "within 7 days after an ED visit or overdose", report.followUp7Days),
            ("follow_up_30_days", "within 30 days after an ED visit or overdose", report.followUp30Days),
            (
                "episode_follow_up_24_hours", "within 24 h after a high or imminent episode",
                report.episodeFollowUp24Hours
            ),
            (
                "episode_follow_up_72_hours", "within 72 h after a high or imminent episode",
                report.episodeFollowUp72Hours
            ),
        ] {
            let rate = measure.rate.map { percent($0) } ?? "-"
            body.append(
                "<tr id=\"measure-\(key)\" data-measure=\"\(key)\" data-numerator=\"\(measure.numerator)\" data-denominator=\"\(measure.denominator)\" data-pending=\"\(measure.pending)\">"
                    + "<td>\(label)</td><td>\(rate) \(bar(measure.rate ?? 0))</td>"
                    + "<td class=\"numerator\">\(measure.numerator)</td><td class=\"denominator\">\(measure.denominator)</td>"
                    + "<td class=\"pending\">\(measure.pending)</td></tr>")
        }
        body.append("</table>")
        let delay = report.escalationToFirstReachedContact
        func hours(_ value: Double?) -> String { value.map { "\(rounded($0)) h" } ?? "-" }
        body.append(
            "<h2>Episode to first reached contact</h2><p>median \(hours(delay.medianHours)), p90 \(hours(delay.p90Hours)); \(delay.episodes) episodes, \(delay.never) never reached.</p>"
        )
        let tasks = report.tasks
        body.append(
            "<h2>Tasks</h2><table><tr><th>created</th><th>overdue</th><th>unreachable</th><th>dead</th><th>cancelled (superseded)</th><th>ended for the client</th><th>cancelled (by a person)</th></tr>"
                + "<tr><td>\(tasks.created)</td><td>\(tasks.overdue)</td><td>\(tasks.unreachable)</td>"
                + "<td>\(tasks.deadByChannel.values.reduce(0, +))</td><td>\(tasks.cancelledSuperseded)</td>"
                + "<td>\(tasks.cancelledEnded)</td><td>\(tasks.cancelledByPerson)</td></tr></table>")
        let programs = report.programs
        body.append(
            "<h2>Caring-contact programs</h2><table id=\"programs\"><tr><th>started</th><th>messages sent</th><th>opted out</th></tr>"
                + "<tr><td>\(programs.started)</td><td>\(programs.contactsSent)</td><td>\(programs.optedOut)</td></tr></table>"
        )
        body.append("<h2>Tasks per day</h2>")
        body.append(chart(report.days.map { ($0.day, $0.tasksByRoute.values.reduce(0, +)) }))
        body.append("<h2>Rule firings per day</h2>")
        body.append(chart(report.days.map { ($0.day, $0.firingsByRule.values.reduce(0, +)) }))
        body.append(
            "<h2>Per day, by route and by rule</h2><table><tr><th>day</th><th>tasks by route</th><th>firings by rule</th></tr>"
        )
        for day in report.days {
            body.append(
                "<tr><td>\(escape(day.day))</td><td>\(counts(day.tasksByRoute))</td><td>\(counts(day.firingsByRule))</td></tr>"
            )
        }
        body.append("</table>")
        body.append(weeklyTrends(report))
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Vigil: supervisor's report</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
            th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
            svg { display: block; margin: 0.5em 0 1.5em; }
            .charts { display: flex; flex-wrap: wrap; gap: 0 1.5em; }
            .charts svg { margin: 0.5em 0; }
            svg text { font-family: sans-serif; fill: #222; }
            @media print {
              body { margin: 0.5cm; }
              h2 { break-after: avoid; }
              svg, table { break-inside: avoid; }
            }
            </style></head>
            <body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
    }

    /// One series of a weekly chart: a value per week (nil: no figure that week) and how a value reads.
    struct Weekly {
        var id: String
        var title: String
        var values: [Double?]
        /// The top of the scale (nil: the largest value).
        var scale: Double?
        var lines = false
        var label: (Double) -> String
    }

    /// "A weekly trend of each": every figure of the report, week by week, as a chart.
    static func weeklyTrends(_ report: SupervisorReport) -> String {
        let weeks = report.weeks
        guard !weeks.isEmpty else { return "<h2>Weekly trends</h2><p>no week in the window</p>" }
        let labels = weeks.map { String($0.week.dropFirst(5)) }
        func rate(_ id: String, _ title: String, _ measure: (SupervisorReport.Week) -> SupervisorReport.Measure)
            -> Weekly
        {
            Weekly(
                id: id, title: title, values: weeks.map { measure($0).rate.map { $0 * 100 } }, scale: 100,
                lines: true, label: { "\(Int($0.rounded())) %" })
        }
        func hours(_ id: String, _ title: String, _ value: (SupervisorReport.Delay) -> Double?) -> Weekly {
            Weekly(
                id: id, title: title, values: weeks.map { value($0.escalationToFirstReachedContact) }, scale: nil,
                lines: true, label: { rounded($0) })
        }
        func count(_ id: String, _ title: String, _ value: (SupervisorReport.Week) -> Int) -> Weekly {
            Weekly(
                id: id, title: title, values: weeks.map { Double(value($0)) }, scale: nil,
                label: { "\(Int($0.rounded()))" })
        }
        /// Per day in the week's days inside the window.
        func perDay(_ id: String, _ title: String, _ value: (SupervisorReport.Week) -> Int) -> Weekly {
            Weekly(
                id: id, title: title, values: weeks.map { Double(value($0)) / Double(max(1, $0.days)) }, scale: nil,
                label: { rounded($0) })
        }
        var sections: [(String, [Weekly])] = [
            (
                "Follow-up rates (% of index events whose period ended)",
                [
                    rate("follow_up_7_days", "Follow-up within 7 days of an ED visit or overdose", \.followUp7Days),
                    rate("follow_up_30_days", "Follow-up within 30 days of an ED visit or overdose", \.followUp30Days),
                    rate(
                        "episode_follow_up_24_hours", "Follow-up within 24 h of a high or imminent episode",
                        \.episodeFollowUp24Hours),
                    rate(
                        "episode_follow_up_72_hours", "Follow-up within 72 h of a high or imminent episode",
                        \.episodeFollowUp72Hours),
                ]
            ),
            (
                "Episode to first reached contact (hours)",
                [
                    hours("delay_median_hours", "Median hours, episode to first reached contact", \.medianHours),
                    hours("delay_p90_hours", "p90 hours, episode to first reached contact", \.p90Hours),
                ]
            ),
            (
                "Tasks (by the week they were created)",
                [
                    count("tasks_created", "Tasks created", \.tasks.created),
                    count("tasks_overdue", "Tasks overdue", \.tasks.overdue),
                    count("tasks_unreachable", "Tasks unreachable", \.tasks.unreachable),
                    count("tasks_dead", "Tasks dead (every channel)") { $0.tasks.deadByChannel.values.reduce(0, +) },
                    count("tasks_cancelled_superseded", "Tasks cancelled (superseded)", \.tasks.cancelledSuperseded),
                    count("tasks_cancelled_ended", "Tasks ended for the client", \.tasks.cancelledEnded),
                    count("tasks_cancelled_by_person", "Tasks cancelled (by a person)", \.tasks.cancelledByPerson),
                ]
            ),
            (
                "Caring-contact programs",
                [
                    count("programs_started", "Programs started", \.programs.started),
                    count("programs_contacts_sent", "Caring messages sent", \.programs.contactsSent),
                    count("programs_opted_out", "Programs opted out of", \.programs.optedOut),
                ]
            ),
        ]
        let rules = Set(weeks.flatMap(\.firingsByRule.keys)).sorted()
        sections.append(
            (
                "Rule firings per day, by rule",
                rules.map { rule in
                    perDay("rule-\(rule)", "Rule \(rule): firings per day") { $0.firingsByRule[rule] ?? 0 }
                }
            ))
        let routes = Set(weeks.flatMap(\.tasksByRoute.keys)).sorted()
        sections.append(
            (
                "Tasks per day, by route (the person-role alerted)",
                routes.map { route in
                    perDay("route-\(route)", "Route \(route): tasks per day") { $0.tasksByRoute[route] ?? 0 }
                }
            ))
        var html = [
            "<h2>Weekly trends</h2>",
            "<p>By ISO week (Monday 00:00 UTC; labelled by its Monday, month-day), \(escape(weeks[0].week)) to \(escape(weeks[weeks.count - 1].week)). Per-day figures divide by the week's days inside the window.</p>",
        ]
        for (heading, charts) in sections {
            html.append("<h3>\(escape(heading))</h3>")
            html.append(
                charts.isEmpty
                    ? "<p>none</p>"
                    : "<div class=\"charts\">\(charts.map { weeklyChart($0, weeks: labels) }.joined(separator: "\n"))</div>"
            )
        }
        return html.joined(separator: "\n")
    }

    /// A chart of one value per week: a title, a y axis with its scale, the weeks on the x axis, and
    /// each value written beside its bar or point (nil: "-", no bar and a gap in the line).
    static func weeklyChart(_ chart: Weekly, weeks: [String]) -> String {
        let column = 38
        let left = 44
        let top = 30
        let plot = 120
        let width = left + column * weeks.count + 8
        let height = top + plot + 30
        let largest = chart.values.compactMap { $0 }.max() ?? 0
        let scale = chart.scale ?? niceCeiling(largest)
        func y(_ value: Double) -> Int { top + plot - Int((min(value, scale) / scale * Double(plot)).rounded()) }
        func x(_ index: Int) -> Int { left + column * index + column / 2 }
        var parts = [
            "<title>\(escape(chart.title))</title>",
            "<text x=\"0\" y=\"14\" font-size=\"13\" font-weight=\"bold\">\(escape(chart.title))</text>",
            "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + plot)\" stroke=\"#444\"/>",
            "<line x1=\"\(left)\" y1=\"\(top + plot)\" x2=\"\(width - 8)\" y2=\"\(top + plot)\" stroke=\"#444\"/>",
        ]
        for tick in [0, scale / 2, scale] {
            parts.append(
                "<line x1=\"\(left - 4)\" y1=\"\(y(tick))\" x2=\"\(width - 8)\" y2=\"\(y(tick))\" stroke=\"#ddd\"/>"
                    + "<text x=\"\(left - 6)\" y=\"\(y(tick) + 4)\" font-size=\"10\" text-anchor=\"end\">\(escape(tickLabel(tick)))</text>"
            )
        }
        func tickLabel(_ tick: Double) -> String {
            if chart.scale == 100 { return "\(Int(tick.rounded())) %" }
            if tick == tick.rounded() { return "\(Int(tick))" }
            let hundredths = Int((tick * 100).rounded())
            return hundredths % 10 == 0
                ? rounded(tick) : "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
        }
        var path: [String] = []
        for (index, week) in weeks.enumerated() {
            parts.append(
                "<text x=\"\(x(index))\" y=\"\(top + plot + 14)\" font-size=\"10\" text-anchor=\"middle\">\(escape(week))</text>"
            )
            guard let value = chart.values[index] else {
                path.append("")
                parts.append(
                    "<text x=\"\(x(index))\" y=\"\(top + plot - 4)\" font-size=\"10\" text-anchor=\"middle\" fill=\"#888\">-</text>"
                )
                continue
            }
            let label = escape(chart.label(value))
            let data = "data-week=\"\(index)\" data-value=\"\(value)\""
            if chart.lines {
                path.append("\(x(index)),\(y(value))")
                parts.append("<circle cx=\"\(x(index))\" cy=\"\(y(value))\" r=\"3\" fill=\"#47a\" \(data)/>")
            } else {
                let barTop = y(value)
                parts.append(
                    "<rect x=\"\(x(index) - column / 2 + 6)\" y=\"\(barTop)\" width=\"\(column - 12)\" height=\"\(top + plot - barTop)\" fill=\"#47a\" \(data)/>"
                )
            }
            parts.append(
                "<text x=\"\(x(index))\" y=\"\(y(value) - 6)\" font-size=\"10\" text-anchor=\"middle\">\(label)</text>")
        }
        if chart.lines {
            // One polyline per run of weeks with a figure.
            for run in path.split(separator: "", omittingEmptySubsequences: true) {
                parts.insert(
                    "<polyline points=\"\(run.joined(separator: " "))\" fill=\"none\" stroke=\"#47a\" stroke-width=\"2\"/>",
                    at: 4)
            }
        }
        parts.append(
            "<text x=\"\(width - 8)\" y=\"\(height - 2)\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">week starting (UTC Monday)</text>"
        )
        return
            "<svg id=\"chart-\(escape(chart.id))\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(escape(chart.title))\">"
            + parts.joined() + "</svg>"
    }

    /// The top of a chart's scale: the smallest 1, 2 or 5 times a power of ten at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        var power = 1.0
        while power * 10 <= value { power *= 10 }
        while power > value { power /= 10 }
        for multiple in [1.0, 2, 5] where multiple * power >= value { return multiple * power }
        return 10 * power
    }

    /// A horizontal bar of `fraction` (0–1).
    static func bar(_ fraction: Double) -> String {
        let width = Int((max(0, min(1, fraction)) * 100).rounded())
        return
            "<svg width=\"100\" height=\"10\" role=\"img\"><rect width=\"100\" height=\"10\" fill=\"#eee\"/><rect width=\"\(width)\" height=\"10\" fill=\"#3a7\"/></svg>"
    }

    /// A bar chart of one value per day.
    static func chart(_ values: [(day: String, value: Int)]) -> String {
        guard let top = values.map(\.value).max(), top > 0 else { return "<p>none</p>" }
        let width = 6
        let height = 120
        var bars: [String] = []
        for (index, entry) in values.enumerated() {
            let bar = Int((Double(entry.value) / Double(top) * Double(height)).rounded())
            bars.append(
                "<rect x=\"\(index * width)\" y=\"\(height - bar)\" width=\"\(width - 1)\" height=\"\(bar)\" fill=\"#47a\"><title>\(escape(entry.day)): \(entry.value)</title></rect>"
            )
        }
        let first = escape(values.first?.day ?? "")
        let last = escape(values.last?.day ?? "")
        let total = values.count * width
        return
            "<svg width=\"\(max(total, 200))\" height=\"\(height + 16)\" role=\"img\">\(bars.joined())"
            + "<text x=\"0\" y=\"\(height + 14)\" font-size=\"10\">\(first)</text>"
            + "<text x=\"\(max(total, 200))\" y=\"\(height + 14)\" font-size=\"10\" text-anchor=\"end\">\(last) (max \(top))</text></svg>"
    }

    static func counts(_ values: [String: Int]) -> String {
        values.sorted { $0.key < $1.key }.map { "\(escape($0.key)) \($0.value)" }.joined(separator: ", ")
    }

    static func percent(_ fraction: Double) -> String { "\(rounded(fraction * 100)) %" }

    static func rounded(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        return "\(Int(tenths) / 10).\(abs(Int(tenths) % 10))"
    }

    /// `text` safe inside HTML text and quoted attributes.
    public static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
