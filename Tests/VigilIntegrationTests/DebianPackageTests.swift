import Foundation
import XCTest

/// The Debian package as ops deploy it: built by `scripts/package` (`make deb`; `make test` builds
/// it before the suites), installed with dpkg under a real systemd in a throwaway namespace where
/// the Swift toolchain is hidden by an empty tmpfs, driven from `vigil submit` to a webhook,
/// upgraded to a package rebuilt with another version, and removed.
final class DebianPackageTests: XCTestCase {
    var systemd: SystemdNamespace?

    override func tearDown() {
        systemd?.shutdown()
        systemd = nil
    }

    /// The newest package in .build/deb; skips loudly when there is none.
    static func builtPackage() throws -> String {
        let directory = Harness.repository + "/.build/deb"
        let packages = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("vigil_") && $0.hasSuffix("_amd64.deb") }
            .map { directory + "/" + $0 }
        let modified = { (path: String) in
            (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
        }
        guard let newest = packages.max(by: { modified($0) < modified($1) }) else {
            throw XCTSkip(
                "SKIPPED LOUDLY: no package in .build/deb (run `make deb`; `make test` does): the Debian package was NOT tested"
            )
        }
        return newest
    }

    /// A field of a package's control file.
    static func field(_ name: String, of package: String) throws -> String {
        let result = try runCommand(["dpkg-deb", "--field", package, name])
        guard result.status == 0 else { throw HarnessError("dpkg-deb --field \(name): \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The toolchain's root (the directory holding usr/bin/swift), hidden from the namespace.
    static func toolchain() throws -> String {
        let directory = #"readlink -f "$(dirname "$(command -v swift)")""#
        let binaries = try runCommand(["sh", "-c", directory]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard binaries.hasSuffix("/usr/bin"), binaries.count > "/usr/bin".count else {
            throw XCTSkip("SKIPPED LOUDLY: no toolchain found from `swift` on PATH (\(binaries)): NOT tested")
        }
        return String(binaries.dropLast("/usr/bin".count))
    }

    func testLintianReportsNoErrors() throws {
        let package = try Self.builtPackage()
        guard (try? runCommand(["which", "lintian"]).status) == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: lintian is not installed (scripts/setup installs it): NOT checked")
        }
        let lintian = try runCommand(["lintian", "--fail-on", "error", "--tag-display-limit", "0", package])
        print("lintian \((package as NSString).lastPathComponent):\n\(lintian.output)")
        XCTAssertEqual(lintian.status, 0, lintian.output)
        let errors = lintian.output.split(separator: "\n").filter { $0.hasPrefix("E: ") }
        XCTAssertEqual(errors, [], "lintian errors")
    }

    func testInstallUpgradeAndRemoveOnAHostWithoutTheToolchain() throws {
        let first = try Self.builtPackage()
        let version = try Self.field("Version", of: first)
        let toolchain = try Self.toolchain()
        guard getuid() == 0 else {
            throw XCTSkip("SKIPPED LOUDLY: not root; the Debian package was NOT installed")
        }

        // The upgrade: the same repository rebuilt by scripts/package with another version (only
        // the version's C file recompiles; .build/release keeps it until the next `make release`).
        let packages = NSTemporaryDirectory() + "vigil-packages-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: packages, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: packages) }
        try FileManager.default.copyItem(atPath: first, toPath: packages + "/first.deb")
        let upgradeVersion = version + "+upgrade1"
        let rebuilt = try runCommand(
            ["timeout", "1800", Harness.repository + "/scripts/package", "--output", packages, "--ignore-lock"],
            environment: ["VIGIL_VERSION": upgradeVersion])
        XCTAssertEqual(rebuilt.status, 0, String(rebuilt.output.suffix(3000)))
        let upgrade = "vigil_\(upgradeVersion)_amd64.deb"
        XCTAssertEqual(try Self.field("Version", of: packages + "/" + upgrade), upgradeVersion)

        let systemd = try SystemdNamespace(packages: packages, hiddenToolchain: toolchain)
        self.systemd = systemd
        XCTAssertEqual(try systemd.inside(["ls", "-A", toolchain]).output, "", "the toolchain is hidden")
        // A container's policy-rc.d (exit 101: no service actions) is not on a real host; left in
        // place it would stop deb-systemd-invoke from restarting the units on upgrade.
        try systemd.inside(["rm", "-f", "/usr/sbin/policy-rc.d"])

        // Install: the units are enabled, not started (the operator configures channels first).
        let installed = try systemd.inside(["dpkg", "-i", "/run/vigil/debs/first.deb"], timeout: 300)
        XCTAssertEqual(installed.status, 0, installed.output)
        XCTAssertEqual(try systemd.inside(["/usr/bin/vigil", "--version"]).output, version + "\n")
        let linked = try systemd.inside(["ldd", "/usr/bin/vigil"]).output
        XCTAssertFalse(linked.contains("not found") || linked.contains("swift"), linked)
        for unit in ["vigil", "vigil-notifier"] {
            XCTAssertEqual(try systemd.inside(["systemctl", "is-enabled", unit]).output, "enabled\n", unit)
            XCTAssertEqual(try systemd.inside(["systemctl", "is-active", unit]).output, "inactive\n", unit)
        }
        XCTAssertEqual(
            try systemd.inside(["stat", "-c", "%a %U %G", "/var/spool/vigil/new"]).output, "3770 vigil vigil-submit\n")
        XCTAssertEqual(try systemd.inside(["man", "-w", "vigil"]).output, "/usr/share/man/man8/vigil.8.gz\n")

        // The operator configures the team's webhook, then starts the units.
        let host = try Harness()
        let receiver = try WebhookReceiver(in: host)
        try systemd.routeEscalations(to: receiver)
        let started = try systemd.inside(["systemctl", "start", "vigil", "vigil-notifier"])
        if started.status != 0 {
            let journal = try systemd.inside(["journalctl", "-u", "vigil", "-u", "vigil-notifier", "--no-pager"])
            XCTFail("the units did not start: \(started.output)\n\(journal.output)")
        }
        try systemd.inside(["useradd", "--system", "--groups", "vigil-submit", "intake"])
        try submitCrisis(client: "c-before", in: systemd)
        try eventually(timeout: 60, "the first escalation delivered to the webhook") {
            Set(receiver.acceptedKeys).count == 1
        }
        // Every command runs without the toolchain.
        let config = ["--config", "/etc/vigil/vigil.yaml"]
        for command in [["rules", "check"], ["status"], ["queue", "list"], ["client", "show", "c-before"]] {
            let result = try systemd.inside(["/usr/bin/vigil"] + command + config)
            XCTAssertEqual(result.status, 0, "vigil \(command.joined(separator: " ")): \(result.output)")
        }
        let daemon = try systemd.mainPID("vigil")
        let notifier = try systemd.mainPID("vigil-notifier")

        // Upgrade: the operator's configuration survives, and what was running restarts.
        let upgraded = try systemd.inside(["dpkg", "-i", "/run/vigil/debs/\(upgrade)"], timeout: 300)
        XCTAssertEqual(upgraded.status, 0, upgraded.output)
        XCTAssertEqual(try systemd.inside(["/usr/bin/vigil", "--version"]).output, upgradeVersion + "\n")
        let configuration = try systemd.inside(["cat", "/etc/vigil/vigil.yaml"]).output
        XCTAssertTrue(configuration.contains(receiver.url), "the operator's vigil.yaml was kept:\n\(configuration)")
        try eventually(timeout: 60, "both units restarted by the upgrade") {
            let daemonNow = try systemd.mainPID("vigil")
            let notifierNow = try systemd.mainPID("vigil-notifier")
            return daemonNow != daemon && daemonNow != "0" && notifierNow != notifier && notifierNow != "0"
        }
        try submitCrisis(client: "c-after", in: systemd)
        try eventually(timeout: 60, "an escalation after the upgrade delivered") {
            Set(receiver.acceptedKeys).count == 2
        }

        // Remove: the binary and the units go; the store, the spool and the configuration stay.
        let removed = try systemd.inside(["dpkg", "-r", "vigil"], timeout: 300)
        XCTAssertEqual(removed.status, 0, removed.output)
        for gone in ["/usr/bin/vigil", "/usr/lib/systemd/system/vigil.service", "/usr/share/man/man8/vigil.8.gz"] {
            XCTAssertNotEqual(try systemd.inside(["test", "-e", gone]).status, 0, "\(gone) is removed")
        }
        for kept in ["/var/lib/vigil/vigil.sqlite", "/var/spool/vigil/new", "/etc/vigil/vigil.yaml"] {
            XCTAssertEqual(try systemd.inside(["test", "-e", kept]).status, 0, "\(kept) is kept")
        }
        XCTAssertNotEqual(try systemd.inside(["systemctl", "is-active", "vigil"]).output, "active\n")
    }

    /// A C-SSRS screening with intent, plan and recent behaviour: the top tier's escalation.
    func submitCrisis(client: String, in systemd: SystemdNamespace) throws {
        let at = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-60))
        let crisis = checkIn(
            id: "\(client)-1", client: client, at: at, kind: "screening",
            extra:
                #","screening":{"wish_dead":true,"suicidal_thoughts":true,"method":true,"intent":true,"plan":true,"behavior_past_3_months":true}"#
        )
        let submitted = try systemd.inside(
            ["runuser", "-u", "intake", "--", "/usr/bin/vigil", "submit", "--config", "/etc/vigil/vigil.yaml", "-"],
            input: crisis)
        XCTAssertEqual(submitted.status, 0, submitted.output)
    }
}
