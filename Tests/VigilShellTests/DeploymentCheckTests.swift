import Glibc
import XCTest

@testable import VigilShell

/// The deployment the daemon refuses before it touches anything, on real directories.
final class DeploymentCheckTests: XCTestCase {
    /// `ROOT/vigil.yaml` naming `ROOT/spool`, `ROOT/state` and `ROOT/rules` (one rule file), all private.
    func deployment(_ scratch: Scratch, state: String = "state") throws -> VigilConfig {
        for name in ["spool", "rules"] { try scratch.directory(name, mode: 0o750) }
        try scratch.file("rules/warning-signs.yaml", "rules: []\n", mode: 0o644)
        let origin = try scratch.file("vigil.yaml", mode: 0o640)
        return VigilConfig(
            spool: scratch.path + "/spool", state: scratch.path + "/" + state, rules: scratch.path + "/rules",
            origin: origin)
    }

    func refusal(_ config: VigilConfig) -> DeploymentError? {
        do {
            try DeploymentCheck.daemon(config)
            return nil
        } catch {
            return error
        }
    }

    func testASoundDeploymentPasses() throws {
        let scratch = try Scratch()
        XCTAssertNil(refusal(try deployment(scratch)))
    }

    func testTheStateInsideTheSpoolIsRefused() throws {
        let scratch = try Scratch()
        let error = try XCTUnwrap(refusal(try deployment(scratch, state: "spool/state")))
        XCTAssertEqual(error.exitStatus, .config)
        XCTAssertEqual(error.paths, [scratch.path + "/spool/state", scratch.path + "/spool"])
    }

    func testAStateLinkedIntoTheSpoolIsSeenThrough() throws {
        let scratch = try Scratch()
        let config = try deployment(scratch, state: "state")
        try scratch.directory("spool/inner")
        XCTAssertEqual(symlink(scratch.path + "/spool/inner", scratch.path + "/state"), 0)
        let error = try XCTUnwrap(refusal(config))
        XCTAssertEqual(error.exitStatus, .config)
        XCTAssertTrue(error.problem.contains("is inside the spool directory"), error.problem)
    }

    func testARuleFileOthersMayWriteIsRefusedByName() throws {
        let scratch = try Scratch()
        let config = try deployment(scratch)
        XCTAssertEqual(chmod(scratch.path + "/rules/warning-signs.yaml", 0o646), 0)
        let error = try XCTUnwrap(refusal(config))
        XCTAssertEqual(error.exitStatus, .noPermission)
        XCTAssertEqual(error.paths, [scratch.path + "/rules/warning-signs.yaml"])
        XCTAssertTrue(error.problem.contains("writable by every user"), error.problem)
    }

    func testAConfigurationFileOthersMayWriteIsRefused() throws {
        let scratch = try Scratch()
        let config = try deployment(scratch)
        XCTAssertEqual(chmod(config.origin, 0o666), 0)
        XCTAssertEqual(refusal(config)?.paths, [config.origin])
    }
}
