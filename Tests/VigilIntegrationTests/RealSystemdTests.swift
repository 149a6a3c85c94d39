import Foundation
import XCTest

/// A real systemd, booted as PID 1 of a throwaway PID + mount namespace (tmpfs over /run, /tmp,
/// /var/tmp and the journal; overlays over /etc, /usr/local, /var/lib and /var/spool, so nothing
/// reaches the host), with Vigil installed into it by `scripts/install` and driven with the real
/// `systemctl` and `journalctl`. Always torn down, also on failure.
final class RealSystemdTests: XCTestCase {
    var systemd: SystemdNamespace?

    override func tearDown() {
        systemd?.shutdown()
        systemd = nil
        host = nil
    }

    /// A command inside the namespace, with a time limit.
    @discardableResult
    func inside(_ arguments: [String], input: String? = nil, timeout: Int = 60) throws -> (
        status: Int32, output: String
    ) {
        guard let systemd else { throw HarnessError("systemd is not running") }
        return try systemd.inside(arguments, input: input, timeout: timeout)
    }

    func boot() throws { systemd = try SystemdNamespace() }

    /// The host's scratch directory of the receiver (kept until the test ends).
    var host: Harness?

    /// Boots, installs Vigil with `scripts/install` and routes escalations to a webhook receiver on
    /// the host's loopback (the namespace shares the network), which it returns.
    func bootAndInstall() throws -> WebhookReceiver {
        try boot()
        // The repository and the binary, as the namespace sees them (see boot_systemd.sh).
        let install = try inside(
            ["env", "PREFIX=/usr/local", "VIGIL_BINARY=/run/vigil/bin/vigil", "/run/vigil/repo/scripts/install"])
        XCTAssertEqual(install.status, 0, install.output)
        let host = try Harness()
        self.host = host
        let receiver = try WebhookReceiver(in: host)
        try systemd?.routeEscalations(to: receiver)
        return receiver
    }

    func testDeployedUnderARealSystemd() throws {
        let receiver = try bootAndInstall()
        let started = try inside(["systemctl", "start", "vigil", "vigil-notifier"])
        if started.status != 0 {
            let journal = try inside(["journalctl", "-u", "vigil", "-u", "vigil-notifier", "--no-pager", "-n", "40"])
            XCTFail("the units did not start: \(started.output)\n\(journal.output)")
        }
        XCTAssertEqual(try inside(["systemctl", "is-active", "vigil-notifier"]).output, "active\n")
        let notifierStatus = try inside(["systemctl", "show", "-p", "StatusText", "vigil-notifier"]).output
        XCTAssertTrue(
            notifierStatus.hasPrefix("StatusText=delivering to log, team") || notifierStatus.contains("delivered"),
            notifierStatus)
        XCTAssertEqual(try inside(["systemctl", "is-active", "vigil"]).output, "active\n")
        let status = try inside(["systemctl", "show", "-p", "StatusText", "vigil"]).output
        XCTAssertTrue(status.hasPrefix("StatusText=ingested 0"), status)
        let firstPID = try inside(["systemctl", "show", "-p", "MainPID", "--value", "vigil"]).output

        // Spool and state modes; who may submit.
        XCTAssertEqual(
            try inside([
                "stat", "-c", "%a %U %G", "/var/spool/vigil", "/var/spool/vigil/tmp", "/var/spool/vigil/new",
                "/var/spool/vigil/rejected",
            ]).output,
            "2750 vigil vigil-submit\n3770 vigil vigil-submit\n3770 vigil vigil-submit\n700 vigil vigil-submit\n")
        XCTAssertEqual(try inside(["stat", "-c", "%a %U", "/var/lib/vigil"]).output, "700 vigil\n")
        try inside(["useradd", "--system", "--groups", "vigil-submit", "intake"])
        try inside(["useradd", "--system", "outsider"])
        // A writer can neither move new/ away (to put a link in its place) nor look into rejected/.
        let moved = try inside(
            ["runuser", "-u", "intake", "--", "mv", "/var/spool/vigil/new", "/var/spool/vigil/elsewhere"])
        XCTAssertNotEqual(moved.status, 0, "a writer renamed new/: \(moved.output)")
        let listed = try inside(["runuser", "-u", "intake", "--", "ls", "/var/spool/vigil/rejected"])
        XCTAssertNotEqual(listed.status, 0, "a writer listed rejected/: \(listed.output)")
        let config = "/etc/vigil/vigil.yaml"
        let ago = { (hours: Double) in ISO8601DateFormatter().string(from: Date().addingTimeInterval(-hours * 3600)) }
        let screening = #","screening":{"wish_dead":true,"suicidal_thoughts":false,"behavior_past_3_months":false}"#
        let scenario = [
            checkIn(id: "q-1", client: "c-quiet", at: ago(60), extra: #","note":"private words of the client""#),
            checkIn(id: "q-2", client: "c-quiet", at: ago(59), kind: "screening", extra: screening),
        ].joined(separator: "\n")
        let submitted = try inside(
            ["runuser", "-u", "intake", "--", "/usr/local/bin/vigil", "submit", "--config", config, "--batch", "-"],
            input: scenario)
        XCTAssertEqual(submitted.status, 0, submitted.output)
        let refused = try inside(
            ["runuser", "-u", "outsider", "--", "/usr/local/bin/vigil", "submit", "--config", config, "-"],
            input: checkIn(id: "x-1", client: "c-x", at: ago(1)))
        XCTAssertNotEqual(refused.status, 0, "a user outside vigil-submit cannot write the spool")

        // The escalation is in the journal with its fields, and journalctl -x explains it.
        try eventually(timeout: 60, "the absence escalation in the journal") {
            try inside(["journalctl", "-u", "vigil", "MESSAGE_ID=834543906df04837806dcfd712e69a2d", "-o", "export"])
                .output.contains("VIGIL_CLIENT=c-quiet")
        }
        let explained = try inside(["journalctl", "-x", "-u", "vigil", "--no-pager"]).output
        XCTAssertTrue(explained.contains("No contact from a client at risk"), explained)

        // A crisis: the escalation is logged at its tier (journalctl VIGIL_TIER=imminent), explained
        // by the catalog, and the notifier delivers it to the team's webhook.
        let crisis = checkIn(
            id: "k-1", client: "c-crisis", at: ago(0.1), kind: "screening",
            extra:
                #","screening":{"wish_dead":true,"suicidal_thoughts":true,"method":true,"intent":true,"plan":true,"behavior_past_3_months":true},"note":"private words in a crisis""#
        )
        let crisisSubmitted = try inside(
            ["runuser", "-u", "intake", "--", "/usr/local/bin/vigil", "submit", "--config", config, "-"], input: crisis)
        XCTAssertEqual(crisisSubmitted.status, 0, crisisSubmitted.output)
        var escalation = ""
        try eventually(timeout: 60, "the escalation in the journal at tier imminent") {
            let entries = try inside(["journalctl", "-u", "vigil", "VIGIL_TIER=imminent", "-o", "export"]).output
            guard entries.contains("MESSAGE_ID=e0b0dc85625040518004a5580fd946c4"),
                entries.contains("VIGIL_CLIENT=c-crisis")
            else { return false }
            escalation =
                entries.split(separator: "\n").first { $0.hasPrefix("VIGIL_TASK=") }.map { String($0.dropFirst(11)) }
                ?? ""
            return entries.contains("PRIORITY=2") && entries.contains("VIGIL_KIND=escalation")
        }
        XCTAssertTrue(escalation.hasPrefix("t-"), escalation)
        let crisisExplained = try inside(["journalctl", "-x", "-u", "vigil", "VIGIL_TIER=imminent", "--no-pager"])
            .output
        XCTAssertTrue(crisisExplained.contains("Escalation enqueued for a client at risk"), crisisExplained)
        try eventually(timeout: 60, "the escalation delivered to the webhook") {
            receiver.acceptedKeys.contains(escalation)
        }
        try eventually(timeout: 30, "the delivery recorded") {
            try inside(["/usr/local/bin/vigil", "queue", "show", escalation, "--config", config, "--json"]).output
                .contains("\"state\":\"delivered\"")
        }
        XCTAssertTrue(
            try inside(["journalctl", "-u", "vigil-notifier", "--no-pager"]).output.contains(
                "escalation delivered to team"))

        // A broken rule file fails the reload; the daemon keeps serving; a fixed one reloads.
        let broken =
            "rules:\n  - id: broken\n    summary: x\n    when: 'measure.mood < '\n    weight: 1\n    evidence: x\n"
        try inside(["sh", "-c", "cat > /etc/vigil/rules/local.yaml"], input: broken)
        let reload = try inside(["systemctl", "reload", "vigil"])
        XCTAssertNotEqual(reload.status, 0, "the reload fails: \(reload.output)")
        XCTAssertEqual(try inside(["systemctl", "is-active", "vigil"]).output, "active\n")
        let journal = try inside(["journalctl", "-u", "vigil", "--no-pager"]).output
        XCTAssertTrue(journal.contains("local.yaml:4:"), "the error with its location:\n\(journal)")
        try inside(["rm", "/etc/vigil/rules/local.yaml"])
        XCTAssertEqual(try inside(["systemctl", "reload", "vigil"]).status, 0)
        try eventually(timeout: 30, "the reload logged") {
            try inside(["journalctl", "-u", "vigil", "--no-pager"]).output.contains("configuration and rules reloaded")
        }

        // kill -9 during a large batch: systemd restarts the daemon, every check-in stored once.
        let batch = (0..<20_000).map { checkIn(id: "b-\($0)", client: "c-\($0 % 50)", at: ago(2)) }
        for part in 0..<4 {
            let lines = batch[(part * 5_000)..<((part + 1) * 5_000)].joined(separator: "\n")
            let result = try inside(
                [
                    "runuser", "-u", "intake", "--", "/usr/local/bin/vigil", "submit", "--config", config, "--batch",
                    "-",
                ],
                input: lines)
            XCTAssertEqual(result.status, 0, String(result.output.prefix(500)))
        }
        try inside(["systemctl", "kill", "-s", "KILL", "vigil"])
        try eventually(timeout: 60, "restarted by systemd") {
            let pid = try inside(["systemctl", "show", "-p", "MainPID", "--value", "vigil"]).output
            let active = try inside(["systemctl", "is-active", "vigil"]).output
            return pid != firstPID && pid != "0\n" && active == "active\n"
        }
        try eventually(timeout: 120, "the batch stored exactly once") {
            let status = try inside(["/usr/local/bin/vigil", "status", "--config", config, "--json"]).output
            return status.contains("\"events\":20003") && status.contains("\"backlog\":0")
        }

        // A main loop that stops is killed by the watchdog and restarted: the unit runs the test
        // binary, the same services with a stall injected after READY=1.
        try inside(["install", "-m", "755", "/run/vigil/bin/vigil-testd", "/usr/local/bin/vigil-testd"])
        try inside(["mkdir", "-p", "/run/systemd/system/vigil.service.d"])
        try inside(
            ["sh", "-c", "cat > /run/systemd/system/vigil.service.d/stall.conf"],
            input:
                "[Service]\nExecStart=\nExecStart=/usr/local/bin/vigil-testd serve --config \(config) --log journal --stall-after-ready\nWatchdogSec=2s\n"
        )
        try inside(["systemctl", "daemon-reload"])
        try inside(["systemctl", "restart", "vigil"])
        // (systemd runs with --log-target=null here, so its own "Watchdog timeout" line is not in the
        // journal: the restart count and a second stalled start show it.)
        try eventually(timeout: 60, "a watchdog abort, then a restart") {
            let journal = try inside(["journalctl", "-u", "vigil", "--no-pager"]).output
            let restarts = try inside(["systemctl", "show", "-p", "NRestarts", "--value", "vigil"]).output
            let stalls = journal.components(separatedBy: "test fault: the ingest loop stalls now").count - 1
            return stalls >= 2 && (Int(restarts.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 1
        }
        try inside(["rm", "/run/systemd/system/vigil.service.d/stall.conf"])
        try inside(["systemctl", "daemon-reload"])
        try inside(["systemctl", "kill", "-s", "KILL", "vigil"])  // a stalled loop does not read SIGTERM
        try inside(["systemctl", "restart", "vigil"])
        XCTAssertEqual(try inside(["systemctl", "is-active", "vigil"]).output, "active\n")

        // The note is nowhere in the journal, nor in what the team received.
        let everything = try inside(["journalctl", "-o", "export", "--no-pager"]).output
        XCTAssertFalse(everything.contains("private words"), "the note never reaches the journal")
        XCTAssertFalse(
            try String(contentsOfFile: receiver.logPath, encoding: .utf8).contains("private words"),
            "nor a webhook payload")
        XCTAssertEqual(try inside(["systemctl", "is-active", "vigil-notifier"]).output, "active\n")
    }

    /// vigil-api.service beside the daemon and the notifier: a check-in POSTed to it is stored, the
    /// escalation it raises reaches the team's webhook with a `reached` link, and the link resolves it.
    func testTheAPIUnitTakesACheckInAndAnActionLink() throws {
        let receiver = try bootAndInstall()
        let port = try freeLoopbackPort()
        let metricsPort = try freeLoopbackPort()
        try inside(["sh", "-c", "umask 027; head -c 32 /dev/urandom | base64 > /etc/vigil/link.secret"])
        try inside(["chgrp", "vigil", "/etc/vigil/link.secret"])
        try systemd?.write(
            """
            api:
              listen: 127.0.0.1:\(port)
              metrics_listen: 127.0.0.1:\(metricsPort)
              public_url: http://127.0.0.1:\(port)
              link_secret_file: /etc/vigil/link.secret

            """, to: "/etc/vigil/vigil.yaml", append: true)
        let config = "/etc/vigil/vigil.yaml"
        let added = try inside(
            [
                "/usr/local/bin/vigil", "api", "token", "add", "intake-app", "--scopes", "submit,read", "--config",
                config,
            ])
        XCTAssertEqual(added.status, 0, added.output)
        let token = try XCTUnwrap(added.output.split(separator: "\n").first { $0.hasPrefix("vigil_") }.map(String.init))
        XCTAssertEqual(try inside(["stat", "-c", "%a %U %G", "/etc/vigil/api-tokens"]).output, "640 root vigil\n")

        let started = try inside(["systemctl", "start", "vigil", "vigil-notifier", "vigil-api"])
        if started.status != 0 {
            let journal = try inside(["journalctl", "-u", "vigil-api", "--no-pager", "-n", "40"])
            XCTFail("the units did not start: \(started.output)\n\(journal.output)")
        }
        XCTAssertEqual(try inside(["systemctl", "is-active", "vigil-api"]).output, "active\n")
        let status = try inside(["systemctl", "show", "-p", "StatusText", "vigil-api"]).output
        XCTAssertTrue(status.hasPrefix("StatusText=serving on 127.0.0.1:\(port)"), status)

        let api = try APIHarness(harness: try XCTUnwrap(host))
        let crisis = checkIn(
            id: "api-k-1", client: "c-api", at: ResponsePlanTests.time(-60), kind: "screening",
            extra:
                #","screening":{"wish_dead":true,"suicidal_thoughts":true,"method":true,"intent":true,"plan":true,"behavior_past_3_months":true},"note":"private words through the api""#
        )
        let accepted = try api.request(
            "POST", "http://127.0.0.1:\(port)/v1/checkins", token: token, body: Array(crisis.utf8))
        if accepted.status != 202 {
            let journal = try inside(["journalctl", "-u", "vigil-api", "--no-pager", "-n", "20", "-o", "verbose"])
            XCTFail("POST /v1/checkins: \(accepted)\n\(journal.output)")
            return
        }
        var reached = ""
        var task = ""
        try eventually(timeout: 60, "the escalation at the webhook, with its links") {
            guard
                let body = receiver.answered.compactMap({ $0["body"] as? [String: Any] })
                    .first(where: { $0["kind"] as? String == "escalation" }),
                let link = (body["actions"] as? [String: String])?["reached"]
            else { return false }
            reached = link
            task = body["task"] as? String ?? ""
            return true
        }
        XCTAssertEqual(try api.request("GET", reached).status, 200)
        XCTAssertEqual(try api.request("POST", reached).status, 200)
        try eventually(timeout: 30, "the escalation resolved through the link") {
            let shown = try inside(["/usr/local/bin/vigil", "queue", "show", task, "--config", config, "--json"]).output
            return shown.contains("\"state\":\"resolved\"") && shown.contains("\"acted_by\":\"link:\(task)\"")
        }
        XCTAssertEqual(try api.request("POST", reached).status, 410)
        let metrics = try api.request("GET", "http://127.0.0.1:\(metricsPort)/metrics")
        XCTAssertTrue(
            metrics.body.contains("vigil_checkins_stored_total 3"),
            "the check-in, the contact, the ack: \(metrics.body)")
        let everything = try inside(["journalctl", "-o", "export", "--no-pager"]).output
        XCTAssertFalse(everything.contains("private words"), "the note never reaches the journal")
        XCTAssertTrue(everything.contains("vigil api started"))
    }
}
