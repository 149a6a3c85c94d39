import Foundation
import XCTest

/// A real systemd, booted as PID 1 of a throwaway PID + mount namespace by `boot_systemd.sh`
/// (tmpfs over /run, /tmp, /var/tmp and the journal; overlays over /etc, /usr/local, /var/lib and
/// /var/spool, and for a package test over /usr, /var/log and /var/cache too, so nothing reaches
/// the host). Killing its PID 1 takes the whole namespace down: `shutdown()` in `tearDown`.
final class SystemdNamespace {
    let pid: Int32

    /// Boots systemd and waits until it reports `running`. With `packages`, that directory is
    /// reachable inside as /run/vigil/debs and `hiddenToolchain` (if any) is covered by an empty
    /// tmpfs. Skips loudly where it cannot run (not root, no unshare, no systemd).
    init(packages: String? = nil, hiddenToolchain: String? = nil) throws {
        guard getuid() == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: not root; the real-systemd deployment was NOT tested")
        }
        for tool in ["unshare", "nsenter", "timeout"] where (try? runCommand(["which", tool]).status) != 0 {
            throw XCTSkip("SKIPPED LOUDLY: \(tool) not found; the real-systemd deployment was NOT tested")
        }
        guard FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd") else {
            throw XCTSkip("SKIPPED LOUDLY: no /lib/systemd/systemd; the real-systemd deployment was NOT tested")
        }
        let launcher = Process()
        launcher.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        launcher.arguments =
            [
                "--fork", "--pid", "--mount", "--mount-proc",
                Harness.repository + "/Tests/VigilIntegrationTests/Support/boot_systemd.sh", Harness.repository,
                (Harness.binary as NSString).deletingLastPathComponent,
            ] + (packages.map { [$0, hiddenToolchain ?? ""] } ?? [])
        launcher.standardOutput = FileHandle.nullDevice
        launcher.standardError = FileHandle.nullDevice
        try launcher.run()
        // systemd is the only child of unshare (PID 1 inside the namespace).
        var systemd: Int32?
        // Until systemd has exec'd, killing the launcher takes the namespace down.
        defer { if systemd == nil { launcher.terminate() } }
        try eventually(timeout: 30, "systemd started in the namespace") {
            let children = try String(
                contentsOfFile: "/proc/\(launcher.processIdentifier)/task/\(launcher.processIdentifier)/children",
                encoding: .utf8)
            guard let pid = children.split(separator: " ").first.flatMap({ Int32($0) }) else { return false }
            let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            guard command.hasPrefix("/lib/systemd/systemd") else { return false }  // the script has exec'd
            systemd = pid
            return true
        }
        guard let systemd else { throw HarnessError("systemd did not start") }
        pid = systemd
        var state = ""
        do {
            try eventually(timeout: 90, "systemd up (last: \(state))") {
                // Until systemd's private socket exists, systemctl cannot connect: try again (also
                // when a slow boot on a loaded machine outlasted the wait: nothing was printed).
                state = try inside(["systemctl", "is-system-running", "--wait"], timeout: 60).output
                return !state.isEmpty && !state.contains("Failed to connect")
            }
        } catch {
            shutdown()
            throw error
        }
        XCTAssertEqual(state.trimmingCharacters(in: .whitespacesAndNewlines), "running", state)
    }

    /// A command inside the namespace, with a time limit.
    @discardableResult
    func inside(_ arguments: [String], input: String? = nil, timeout: Int = 60) throws -> (
        status: Int32, output: String
    ) {
        try runCommand(["timeout", "\(timeout)", "nsenter", "-t", "\(pid)", "-m", "-p"] + arguments, input: input)
    }

    /// Writes `content` to `path` inside the namespace (appending with `append`).
    func write(_ content: String, to path: String, append: Bool = false) throws {
        let result = try inside(["sh", "-c", "cat \(append ? ">>" : ">") \(path)"], input: content)
        guard result.status == 0 else { throw HarnessError("writing \(path): \(result.output)") }
    }

    /// The unit's main PID (0 when it is not running).
    func mainPID(_ unit: String) throws -> String {
        try inside(["systemctl", "show", "-p", "MainPID", "--value", unit]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Routes escalations to `receiver` (the team's webhook on the host's loopback: the namespace
    /// shares the network), with its secret in /etc/vigil/webhook.secret readable by `vigil` only.
    func routeEscalations(to receiver: WebhookReceiver, config: String = "/etc/vigil/vigil.yaml") throws {
        let secret = try String(contentsOfFile: receiver.secretPath, encoding: .utf8)
        try inside(["sh", "-c", "umask 077; cat > /etc/vigil/webhook.secret"], input: secret)
        try inside(["chown", "root:vigil", "/etc/vigil/webhook.secret"])
        try inside(["chmod", "0640", "/etc/vigil/webhook.secret"])
        let notifierSection = """
            notifier:
              channels:
                team: {type: webhook, url: "\(receiver.url)", secret_file: /etc/vigil/webhook.secret, timeout: 5s}
                log: {type: journal}
              routes:
                - {match: {kind: [escalation, overdue]}, channel: team}
              default_channel: log

            """
        try write(notifierSection, to: config, append: true)
    }

    /// Kills PID 1, which takes the namespace and everything in it down.
    func shutdown() { kill(pid, SIGKILL) }
}
