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
                "<tr data-measure=\"\(key)\" data-numerator=\"\(measure.numerator)\" data-denominator=\"\(measure.denominator)\" data-pending=\"\(measure.pending)\">"
                    + "<td>\(label)</td><td>\(rate) \(bar(measure.rate ?? 0))</td><td>\(measure.numerator)</td>"
                    + "<td>\(measure.denominator)</td><td>\(measure.pending)</td></tr>")
        }
        body.append("</table>")
        let delay = report.escalationToFirstReachedContact
        func hours(_ value: Double?) -> String { value.map { "\(rounded($0)) h" } ?? "-" }
        body.append(
            "<h2>Episode to first reached contact</h2><p>median \(hours(delay.medianHours)), p90 \(hours(delay.p90Hours)); \(delay.episodes) episodes, \(delay.never) never reached.</p>"
        )
        let tasks = report.tasks
        body.append(
            "<h2>Tasks</h2><table><tr><th>created</th><th>overdue</th><th>unreachable</th><th>dead</th><th>cancelled (superseded)</th><th>cancelled (by a person)</th></tr>"
                + "<tr><td>\(tasks.created)</td><td>\(tasks.overdue)</td><td>\(tasks.unreachable)</td>"
                + "<td>\(tasks.deadByChannel.values.reduce(0, +))</td><td>\(tasks.cancelledSuperseded)</td>"
                + "<td>\(tasks.cancelledByPerson)</td></tr></table>")
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
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Vigil: supervisor's report</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
            th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
            svg { display: block; margin: 0.5em 0 1.5em; }
            @media print { body { margin: 0.5cm; } }
            </style></head>
            <body>
            \(body.joined(separator: "\n"))
            </body></html>

            """
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

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
