import Foundation
import VigilShell
import XCTest

/// `systemd/` and `scripts/install`, checked with the real systemd tools offline (nothing touches the
/// host: every root is a temporary directory). `RealSystemdTests` boots a real one.
final class SystemdPackagingTests: XCTestCase {
    func requireSystemdTools() throws {
        for tool in ["systemd-analyze", "systemd-sysusers", "systemd-tmpfiles", "journalctl"] {
            guard (try? runCommand(["which", tool]).0) == 0 else {
                throw XCTSkip("SKIPPED LOUDLY: \(tool) not found; the systemd files were NOT checked")
            }
        }
    }

    /// The scratch directory of the staging root (removed with it when the test ends).
    var scratch: Harness?

    override func tearDown() { scratch = nil }

    /// Installs into a fresh DESTDIR with the binary under test; the staging root.
    func stage() throws -> String {
        let harness = try Harness()
        scratch = harness
        let root = harness.root + "/stage"
        let (status, output) = try runCommand(
            [Harness.repository + "/scripts/install"], environment: ["DESTDIR": root, "VIGIL_BINARY": Harness.binary])
        XCTAssertEqual(status, 0, output)
        return root
    }

    func testInstallPutsEverythingInItsPlace() throws {
        let root = try stage()
        for (path, mode) in [
            ("/usr/bin/vigil", 0o755), ("/usr/lib/systemd/system/vigil.service", 0o644),
            ("/usr/lib/systemd/system/vigil-notifier.service", 0o644),
            ("/usr/lib/systemd/system/vigil-api.service", 0o644), ("/usr/share/doc/vigil/api.yaml", 0o644),
            ("/usr/lib/sysusers.d/vigil.conf", 0o644), ("/usr/lib/tmpfiles.d/vigil.conf", 0o644),
            ("/usr/lib/systemd/catalog/vigil.catalog", 0o644), ("/etc/vigil/vigil.yaml", 0o644),
            ("/etc/vigil/rules/policy.yaml", 0o644), ("/usr/share/doc/vigil/README.md", 0o644),
        ] {
            let attributes = try FileManager.default.attributesOfItem(atPath: root + path)
            XCTAssertEqual((attributes[.posixPermissions] as? Int) ?? -1, mode, path)
        }
        // The installed configuration and rules check clean.
        try "spool: /var/spool/vigil\nstate: /var/lib/vigil\nrules: \(root)/etc/vigil/rules\n".write(
            toFile: root + "/check.yaml", atomically: true, encoding: .utf8)
        let (status, output) = try runCommand([
            root + "/usr/bin/vigil", "rules", "check", "--config", root + "/check.yaml",
        ])
        XCTAssertEqual(status, 0, output)
    }

    func testTheServicesVerifyAndTheirSandboxesMeetTheTargets() throws {
        try requireSystemdTools()
        let root = try stage()
        var units: [String: String] = [:]
        for (name, target) in [("vigil.service", 1.0), ("vigil-notifier.service", 2.0), ("vigil-api.service", 2.0)] {
            let unit = try String(contentsOfFile: root + "/usr/lib/systemd/system/" + name, encoding: .utf8)
            units[name] = unit
            let local = root + "/" + name
            try unit.replacingOccurrences(of: "/usr/bin/vigil", with: root + "/usr/bin/vigil")
                .write(toFile: local, atomically: true, encoding: .utf8)
            let (verified, verifyOutput) = try runCommand(["systemd-analyze", "verify", "--man=no", local])
            XCTAssertEqual(verified, 0, verifyOutput)
            XCTAssertEqual(verifyOutput.trimmingCharacters(in: .whitespacesAndNewlines), "", "no warnings for \(name)")

            let (_, security) = try runCommand(["systemd-analyze", "security", "--offline=true", local])
            let line = try XCTUnwrap(security.split(separator: "\n").first { $0.contains("Overall exposure level") })
            print("\(name): \(line) (target <= \(target))")
            let score = try XCTUnwrap(line.split(separator: " ").compactMap { Double($0) }.first)
            XCTAssertLessThanOrEqual(score, target, "exposure target for \(name): <= \(target) (\(line))")
        }
        XCTAssertTrue(units["vigil.service"]?.contains("PrivateNetwork=yes") ?? false, "the daemon needs no network")
        XCTAssertTrue(
            units["vigil.service"]?.contains("ExecReload=/usr/bin/vigil rules check") ?? false,
            "a broken rule set never reaches it")
        XCTAssertTrue(
            units["vigil-notifier.service"]?.contains("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6") ?? false,
            "the notifier needs the network, nothing else")
        let api = units["vigil-api.service"] ?? ""
        XCTAssertTrue(api.contains("ReadWritePaths=/var/spool/vigil\n"), "the API writes the spool, nothing else")
        XCTAssertTrue(api.contains("InaccessiblePaths=-/var/spool/vigil/rejected"), "nor sees what was refused")
        XCTAssertFalse(api.contains("StateDirectory="), "the store stays read-only to the API")
    }

    func testUsersGroupsAndTheSpoolComeOutRight() throws {
        try requireSystemdTools()
        let root = try stage()
        let (users, usersOutput) = try runCommand(
            ["systemd-sysusers", "--root=\(root)", root + "/usr/lib/sysusers.d/vigil.conf"])
        XCTAssertEqual(users, 0, usersOutput)
        let passwd = try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)
        let group = try String(contentsOfFile: root + "/etc/group", encoding: .utf8)
        let user = try XCTUnwrap(passwd.split(separator: "\n").first { $0.hasPrefix("vigil:") }).split(separator: ":")
        let submit = try XCTUnwrap(group.split(separator: "\n").first { $0.hasPrefix("vigil-submit:") })
            .split(separator: ":", omittingEmptySubsequences: false)
        XCTAssertEqual(user[6], "/usr/sbin/nologin")
        XCTAssertEqual(submit.last, "vigil", "the daemon is a member of vigil-submit")

        let (files, filesOutput) = try runCommand(
            ["systemd-tmpfiles", "--root=\(root)", "--create", root + "/usr/lib/tmpfiles.d/vigil.conf"])
        XCTAssertEqual(files, 0, filesOutput)
        for (name, mode) in [("", 0o2750), ("/tmp", 0o3770), ("/new", 0o3770), ("/rejected", 0o700)] {
            var info = stat()
            XCTAssertEqual(stat(root + "/var/spool/vigil" + name, &info), 0, name)
            XCTAssertEqual(Int(info.st_mode & 0o7777), mode, "spool\(name)")
            XCTAssertEqual(String(info.st_uid), String(user[2]), "owned by vigil")
            XCTAssertEqual(String(info.st_gid), String(submit[2]), "group vigil-submit")
        }
    }

    func testTheCatalogExplainsEveryMessageID() throws {
        try requireSystemdTools()
        let root = try stage()
        let (updated, updateOutput) = try runCommand(["journalctl", "--root=\(root)", "--update-catalog"])
        XCTAssertEqual(updated, 0, updateOutput)
        let (_, listed) = try runCommand(["journalctl", "--root=\(root)", "--list-catalog"])
        let source = try String(
            contentsOfFile: Harness.repository + "/Sources/VigilShell/Systemd/MessageID.swift", encoding: .utf8)
        let ids = source.components(separatedBy: "\"").filter { $0.count == 32 && $0.allSatisfy(\.isHexDigit) }
        XCTAssertEqual(ids.count, MessageID.allCases.count, "every MESSAGE_ID the daemon and the notifier log")
        for id in ids { XCTAssertTrue(listed.contains("\(id) vigil: "), "catalog entry for \(id):\n\(listed)") }
    }
}
