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
        // A package older than the sources it is built from would test yesterday's Vigil.
        let sources = ["Sources", "Rules", "systemd", "scripts", "Package.swift"].map { Harness.repository + "/" + $0 }
        let newer = try runCommand(["find"] + sources + ["-type", "f", "-newer", newest, "-print", "-quit"]).output
        guard newer.isEmpty else {
            throw XCTSkip(
                "SKIPPED LOUDLY: \((newest as NSString).lastPathComponent) is older than \(newer.trimmingCharacters(in: .whitespacesAndNewlines)) (run `make deb`; `make test` does): the Debian package was NOT tested"
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
        // the version's C file recompiles). .build/release keeps that version until the next
        // `make release` or `make deb`, which build the repository's again (the version is a define
        // of Package.swift's): not rebuilt here, which kept CI under 30 minutes.
        let packages = NSTemporaryDirectory() + "vigil-packages-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: packages, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: packages) }
        try FileManager.default.copyItem(atPath: first, toPath: packages + "/first.deb")
        let upgradeVersion = version + "+upgrade1"
        let rebuilt = try runCommand(
            ["timeout", "1800", Harness.repository + "/scripts/package", "--output", packages, "--ignore-lock"],
            environment: ["VIGIL_VERSION": upgradeVersion])
        XCTAssertEqual(rebuilt.status, 0, String(rebuilt.output.suffix(3000)))
        let rebuiltPackage = packages + "/vigil_\(upgradeVersion)_amd64.deb"
        XCTAssertEqual(try Self.field("Version", of: rebuiltPackage), upgradeVersion)
        // What upgrades meet in the field: the first package ships a rule file the next one drops
        // (dpkg would keep it as an obsolete conffile, and the daemon loads every *.yaml), and the
        // next one ships a changed default vigil.yaml while the operator has edited theirs.
        try Self.repack(packages + "/first.deb") { tree in
            let rule = """
                rules:
                  - id: retired-rule
                    summary: A rule the next version no longer ships
                    domain: return_to_use
                    when: '"secrecy" in signs'
                    weight: 1
                    evidence: "test"

                """
            try rule.write(toFile: tree + "/etc/vigil/rules/retired.yaml", atomically: true, encoding: .utf8)
            let conffiles = try String(contentsOfFile: tree + "/DEBIAN/conffiles", encoding: .utf8)
            try (conffiles + "/etc/vigil/rules/retired.yaml\n").write(
                toFile: tree + "/DEBIAN/conffiles", atomically: true, encoding: .utf8)
        }
        try Self.repack(rebuiltPackage, as: packages + "/upgrade.deb") { tree in
            let defaults = try String(contentsOfFile: tree + "/etc/vigil/vigil.yaml", encoding: .utf8)
            try (defaults + "# a new default in the next version\n").write(
                toFile: tree + "/etc/vigil/vigil.yaml", atomically: true, encoding: .utf8)
        }

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

        // Upgrade, unattended as the README says (keep the operator's files): the operator's
        // configuration survives beside the new default, the dropped rule file is gone, and what
        // was running restarts.
        XCTAssertEqual(try systemd.inside(["test", "-e", "/etc/vigil/rules/retired.yaml"]).status, 0)
        let upgraded = try systemd.inside(
            [
                "dpkg", "--force-confdef", "--force-confold", "-i", "/run/vigil/debs/upgrade.deb",
            ], timeout: 300)
        XCTAssertEqual(upgraded.status, 0, upgraded.output)
        XCTAssertEqual(try systemd.inside(["/usr/bin/vigil", "--version"]).output, upgradeVersion + "\n")
        let configuration = try systemd.inside(["cat", "/etc/vigil/vigil.yaml"]).output
        XCTAssertTrue(configuration.contains(receiver.url), "the operator's vigil.yaml was kept:\n\(configuration)")
        XCTAssertEqual(try systemd.inside(["test", "-e", "/etc/vigil/vigil.yaml.dpkg-dist"]).status, 0)
        XCTAssertNotEqual(
            try systemd.inside(["test", "-e", "/etc/vigil/rules/retired.yaml"]).status, 0,
            "a rule file the new version dropped is no longer loaded")
        let check = try systemd.inside(["/usr/bin/vigil", "rules", "check", "--strict"] + config)
        XCTAssertEqual(check.status, 0, check.output)
        try eventually(timeout: 60, "both units restarted by the upgrade") {
            let daemonNow = try systemd.mainPID("vigil")
            let notifierNow = try systemd.mainPID("vigil-notifier")
            return daemonNow != daemon && daemonNow != "0" && notifierNow != notifier && notifierNow != "0"
        }
        try submitCrisis(client: "c-after", in: systemd)
        try eventually(timeout: 60, "an escalation after the upgrade delivered") {
            Set(receiver.acceptedKeys).count == 2
        }

        // Remove: the units stop, the binary and the units go (not masked: `make install` may
        // follow); the store, the spool and the configuration stay.
        let removed = try systemd.inside(["dpkg", "-r", "vigil"], timeout: 300)
        XCTAssertEqual(removed.status, 0, removed.output)
        for gone in [
            "/usr/bin/vigil", "/usr/lib/systemd/system/vigil.service",
            "/usr/lib/systemd/system/vigil-notifier.service", "/usr/share/man/man8/vigil.8.gz",
            "/etc/systemd/system/vigil.service", "/etc/systemd/system/vigil-notifier.service",
        ] {
            XCTAssertNotEqual(try systemd.inside(["test", "-e", gone, "-o", "-L", gone]).status, 0, "\(gone) is gone")
        }
        for unit in ["vigil", "vigil-notifier"] {
            XCTAssertNotEqual(try systemd.inside(["systemctl", "is-active", unit]).output, "active\n", unit)
        }
        for kept in ["/var/lib/vigil/vigil.sqlite", "/var/spool/vigil/new", "/etc/vigil/vigil.yaml"] {
            XCTAssertEqual(try systemd.inside(["test", "-e", kept]).status, 0, "\(kept) is kept")
        }
        // Purge: the configuration dpkg installed goes; the clinical records stay.
        let purged = try systemd.inside(["dpkg", "--purge", "vigil"], timeout: 300)
        XCTAssertEqual(purged.status, 0, purged.output)
        XCTAssertNotEqual(try systemd.inside(["test", "-e", "/etc/vigil/vigil.yaml"]).status, 0)
        for kept in ["/var/lib/vigil/vigil.sqlite", "/var/spool/vigil/new"] {
            XCTAssertEqual(try systemd.inside(["test", "-e", kept]).status, 0, "\(kept) is kept on purge")
        }
    }

    /// Unpacks `package`, applies `edit` to its tree, and builds the result at `output` (in place
    /// when nil).
    static func repack(_ package: String, as output: String? = nil, _ edit: (String) throws -> Void) throws {
        let tree = NSTemporaryDirectory() + "vigil-repack-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: tree) }
        let unpacked = try runCommand(["dpkg-deb", "-R", package, tree])
        guard unpacked.status == 0 else { throw HarnessError("dpkg-deb -R: \(unpacked.output)") }
        try edit(tree)
        let built = try runCommand(["dpkg-deb", "--root-owner-group", "-b", tree, output ?? package])
        guard built.status == 0 else { throw HarnessError("dpkg-deb -b: \(built.output)") }
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
