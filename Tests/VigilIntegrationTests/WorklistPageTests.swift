import Foundation
import XCTest

/// The worklist page of `vigil api` in a real headless Chromium (Support/worklist_browser.py): a
/// counselor signs in, sees the overdue escalation in red, takes it and records a contact; the
/// screenshots (phone and desktop widths) are kept in `VIGIL_WORKLIST_ARTIFACTS`
/// (/tmp/vigil-worklist-browser). Skips, loudly, without chromium, chromedriver or selenium.
final class WorklistPageTests: XCTestCase {
    static let artifacts =
        ProcessInfo.processInfo.environment["VIGIL_WORKLIST_ARTIFACTS"] ?? "/tmp/vigil-worklist-browser"
    static let script = Harness.repository + "/Tests/VigilIntegrationTests/Support/worklist_browser.py"

    func testACounselorSignsInTakesTheOverdueEscalationAndRecordsAContactInChromium() throws {
        if let missing = try ReportBrowserTests.missingBrowser() {
            let reason = "WorklistPageTests SKIPPED, NOT PASSED: \(missing) missing; run scripts/setup"
            FileHandle.standardError.write(Data("\n*** \(reason) ***\n\n".utf8))
            throw XCTSkip(reason)
        }
        let api = try APIHarness()
        let daemon = try api.harness.startDaemon()
        defer { _ = daemon.stop() }
        let server = try api.start()
        defer { _ = server.stop() }
        let token = try api.token("counselor.rivera", scopes: "read,act")
        try api.harness.drop(
            "s1.json", ResponsePlanTests.highScreening(id: "s1", client: "c-page", at: ResponsePlanTests.time(-60)))
        try eventually("the plan enqueued") { try api.harness.tasks().count == ResponsePlanTests.highPlanSize }

        // Without a session the page sends to the sign-in; a form post without a session is refused.
        let first = try api.request("GET", "/")
        XCTAssertEqual(first.status, 303)
        XCTAssertTrue(first.headers.lowercased().contains("location: /signin"), first.headers)
        XCTAssertEqual(try api.request("POST", "/tasks/t-1/ack", body: Array("csrf=x".utf8)).status, 401)

        try? FileManager.default.removeItem(atPath: Self.artifacts)
        let (status, output) = try runCommand(["python3", Self.script, api.base, token, Self.artifacts])
        let result = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data((output.split(separator: "\n").last ?? "").utf8))
                as? [String: Any], output)
        XCTAssertEqual(status, 0, "\(result["problems"] ?? output)")
        XCTAssertTrue((result["first_url"] as? String ?? "").hasSuffix("/signin"), "\(result)")
        XCTAssertEqual(result["overdue_rows"] as? Int, 1, "the escalation is due at once: overdue")
        XCTAssertEqual(result["overdue_background"] as? String, "rgba(253, 226, 226, 1)", "overdue in red")
        XCTAssertEqual(result["overdue_color"] as? String, "rgba(139, 0, 0, 1)")
        XCTAssertEqual(result["taken_by_shown"] as? String, "counselor.rivera")
        XCTAssertEqual(result["csrf_probe_status"] as? Int, 403, "a form without its CSRF token is refused")
        let hostile = result["hostile_back"] as? [String: Any] ?? [:]
        XCTAssertEqual(hostile["status"] as? Int, 303, "\(result)")
        XCTAssertEqual(hostile["location"] as? String, "/", "a form never sends the browser to another host")
        let cookie = result["cookie"] as? [String: Any] ?? [:]
        XCTAssertEqual(cookie["httpOnly"] as? Bool, true)
        XCTAssertEqual(cookie["sameSite"] as? String, "Strict")
        let screenshots = result["screenshots"] as? [String] ?? []
        XCTAssertEqual(screenshots.count, 4, "worklist and client page, phone and desktop")
        for path in screenshots {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            XCTAssertGreaterThan(size, 5_000, "\(path) holds a picture")
        }
        for page in result["pages"] as? [String] ?? [] {
            XCTAssertFalse(page.contains("private words"), "the note is on no page")
            XCTAssertFalse(page.contains("<script"), "no script")
        }

        // What the browser did is in the store, as events naming who acted.
        let escalation = try XCTUnwrap(result["overdue_task"] as? String)
        let contacted = try XCTUnwrap(result["contact_task"] as? String)
        try eventually("the contact applied") {
            try api.harness.tasks().first { $0["id"] as? String == contacted }?["state"] as? String == "resolved"
        }
        let tasks = try api.harness.tasks()
        XCTAssertEqual(tasks.first { $0["id"] as? String == escalation }?["taken_by"] as? String, "counselor.rivera")
        XCTAssertEqual(tasks.first { $0["id"] as? String == contacted }?["acted_by"] as? String, "counselor.rivera")
        XCTAssertEqual(
            try api.harness.query("SELECT state FROM tasks WHERE id = '\(escalation)'"), ["pending"],
            "the CSRF probe's ack changed nothing (no notifier runs: still pending)")
    }
}
