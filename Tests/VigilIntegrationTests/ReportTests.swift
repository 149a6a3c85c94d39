import Foundation
import XCTest

/// `vigil report` through the real binary, over a store the real daemon filled from its spool.
final class ReportTests: XCTestCase {
    func testFollowUpAfterEDVisitsAndOverdosesEqualsADirectCountOfTheStore() throws {
        let harness = try Harness()
        let day = 24.0 * 3600
        func at(_ days: Double) -> String { ResponsePlanTests.time(days * day) }
        func contact(_ id: String, _ client: String, _ days: Double, _ outcome: String) -> String {
            ResponsePlanTests.contact(id: id, client: client, at: at(days), outcome: outcome)
        }
        // c-1 reached 4 days after its ED visit (7 and 30); c-2 attended care 20 days after (30 only);
        // c-3 not reached after its overdose (no answer, then an opt-out of caring contacts); c-4's ED
        // visit 2 days ago (7 and 30 pending); c-5 reached before its ED visit only (neither).
        let lines = [
            checkIn(id: "e1", client: "c-1", at: at(-40), kind: "ed_visit"), contact("k1", "c-1", -36, "reached"),
            checkIn(id: "e2", client: "c-2", at: at(-40), kind: "ed_visit"), contact("k2", "c-2", -20, "engaged"),
            checkIn(id: "e3", client: "c-3", at: at(-35), kind: "overdose"), contact("k3", "c-3", -34, "no_answer"),
            contact("k4", "c-3", -33, "opted_out"),
            checkIn(id: "e4", client: "c-4", at: at(-2), kind: "ed_visit"), contact("k5", "c-5", -31, "reached"),
            checkIn(
                id: "e5", client: "c-5", at: at(-30), kind: "ed_visit",
                extra: #","note":"private words of e5""#),
        ]
        try ReplayTests.ingest([("history.jsonl", lines.joined(separator: "\n"), lines.count)], harness: harness)

        let end = ResponsePlanTests.time(2)  // after the commit (the text has whole seconds)
        let result = try harness.run(["report", "--to", end, "--json"])
        XCTAssertEqual(result.status, 0, "\(result)")
        XCTAssertFalse(result.stdout.contains("private words"))
        XCTAssertFalse(result.stdout.contains("c-1"), "aggregates only: no client id")
        XCTAssertNil(
            (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["clients"])
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        func figures(_ object: [String: Any], _ key: String) -> [Int] {
            let measure = object[key] as? [String: Any] ?? [:]
            return ["numerator", "denominator", "pending"].map { measure[$0] as? Int ?? -1 }
        }
        func figures(_ key: String) -> [Int] { figures(report, key) }
        XCTAssertEqual(figures("follow_up_7_days"), [1, 4, 1])
        XCTAssertEqual(figures("follow_up_30_days"), [2, 4, 1])

        // The same figures by a direct count in SQL, written here, independently of Vigil's code.
        guard let endDate = ResponsePlanTests.date(end) ?? ISO8601DateFormatter().date(from: end) else {
            throw HarnessError("cannot read \(end)")
        }
        let endMicros = Int64(endDate.timeIntervalSince1970 * 1_000_000)
        for days in [7, 30] {
            let span = Int64(days) * 86_400_000_000
            let denominator = try harness.query(
                "SELECT count(*) FROM events WHERE kind IN ('ed_visit', 'overdose') AND at + \(span) <= \(endMicros)")
            let numerator = try harness.query(
                """
                SELECT count(*) FROM events v WHERE v.kind IN ('ed_visit', 'overdose') AND v.at + \(span) <= \(endMicros)
                AND EXISTS (SELECT 1 FROM events c WHERE c.client = v.client AND c.kind = 'contact'
                    AND json_extract(c.body, '$.contact.outcome') IN ('reached', 'engaged')
                    AND c.at >= v.at AND c.at <= v.at + \(span))
                """)
            let figures = figures("follow_up_\(days)_days")
            XCTAssertEqual([numerator.first, denominator.first], ["\(figures[0])", "\(figures[1])"], "\(days) days")
        }
        // The weeks: each index event counts in the ISO week (Monday, UTC) of its time, and the weeks
        // add up to the totals.
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        func monday(_ text: String) -> String {
            let date = ResponsePlanTests.date(text) ?? ISO8601DateFormatter().date(from: text) ?? Date.distantPast
            let start = calendar.dateInterval(of: .weekOfYear, for: date)?.start ?? date
            return String(ISO8601DateFormatter().string(from: start).prefix(10))
        }
        var expected: [String: [Int]] = [:]  // week: [numerator, denominator, pending] of 30 days
        for (days, followed) in [(-40.0, 1), (-40, 1), (-35, 0), (-30, 0), (-2, -1)] {
            var figures = expected[monday(at(days)), default: [0, 0, 0]]
            if followed < 0 { figures[2] += 1 } else { figures[1] += 1 }
            if followed > 0 { figures[0] += 1 }
            expected[monday(at(days))] = figures
        }
        let weeks = report["weeks"] as? [[String: Any]] ?? []
        XCTAssertEqual(weeks.first?["week"] as? String, monday(at(-40)), "from the first week with a figure")
        XCTAssertEqual(weeks.last?["week"] as? String, monday(end), "to the week of --to")
        XCTAssertEqual(
            weeks.compactMap { $0["week"] as? String }.count, Set(weeks.compactMap { $0["week"] as? String }).count)
        for week in weeks {
            let name = week["week"] as? String ?? ""
            XCTAssertEqual(figures(week, "follow_up_30_days"), expected[name] ?? [0, 0, 0], name)
            XCTAssertTrue((1...7).contains(week["days"] as? Int ?? 0), "\(week)")
        }
        // Caring-contact programs: each ED visit or overdose started one; c-3 opted out.
        let programs = report["programs"] as? [String: Int] ?? [:]
        XCTAssertEqual(programs["started"], 5, "\(programs)")
        XCTAssertEqual(try harness.query("SELECT count(*) FROM programs"), ["5"])
        XCTAssertEqual(programs["opted_out"], 1)
        XCTAssertEqual(programs["contacts_sent"], 0, "no notifier ran")
        let delay = report["escalation_to_first_reached_contact"] as? [String: Any] ?? [:]
        XCTAssertEqual(
            try harness.query("SELECT count(*) FROM episodes"), ["\(delay["episodes"] as? Int ?? -1)"],
            "every episode is measured")
        // The HTML page: self-contained, the same figures.
        let page = harness.root + "/report.html"
        XCTAssertEqual(try harness.run(["report", "--to", end, "--html", page]).status, 0)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertFalse(html.contains("<script"), "no script")
        XCTAssertFalse(html.contains("http"), "nothing from elsewhere")
        XCTAssertFalse(html.contains("private words"))
        XCTAssertTrue(html.contains("<svg"), "inline SVG charts")
        XCTAssertTrue(html.contains("<svg id=\"chart-follow_up_7_days\""), "the weekly trend of FUM-7")
        for days in [7, 30] {
            let figures = figures("follow_up_\(days)_days")
            XCTAssertTrue(
                html.contains(
                    "data-measure=\"follow_up_\(days)_days\" data-numerator=\"\(figures[0])\" data-denominator=\"\(figures[1])\" data-pending=\"\(figures[2])\""
                ), html)
        }
        // --by-client names each client with an index event, and its follow-up.
        let listed = try harness.run(["report", "--to", end, "--json", "--by-client"])
        XCTAssertEqual(listed.status, 0, "\(listed)")
        let clients = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["clients"]
                as? [[String: Any]])
        XCTAssertEqual(
            clients.map {
                "\($0["client"] ?? "") \($0["index_events"] ?? "") \($0["followed_within_7_days"] ?? "") \($0["followed_within_30_days"] ?? "")"
            }, ["c-1 1 1 1", "c-2 1 0 1", "c-3 1 0 0", "c-4 1 0 0", "c-5 1 0 0"])
        let text = try harness.run(["report", "--to", end])
        XCTAssertEqual(text.status, 0, "\(text)")
        XCTAssertTrue(text.stdout.contains("within 7 days    25.0 %  (1 of 4; 1 pending)"), text.stdout)
    }
}
