import Glibc
import XCTest

@testable import VigilShell

/// The spool held by descriptor: its layout and modes, what it refuses, and a path changed under it.
final class SpoolDirectoryTests: XCTestCase {
    func testOpenCreatesTheLayoutWithItsModes() throws {
        let scratch = try Scratch()
        let spool = try SpoolDirectory(root: scratch.path + "/spool").open()
        XCTAssertEqual(scratch.mode("spool"), 0o2750)
        XCTAssertEqual(scratch.mode("spool/tmp"), 0o3770)
        XCTAssertEqual(scratch.mode("spool/new"), 0o3770)
        XCTAssertEqual(scratch.mode("spool/rejected"), 0o700)
        XCTAssertNil(spool.layoutChange())
        XCTAssertEqual(spool.backlog(), 0)
    }

    func testOpenResetsAWideningOfTheModes() throws {
        let scratch = try Scratch()
        _ = try SpoolDirectory(root: scratch.path + "/spool").open()
        XCTAssertEqual(chmod(scratch.path + "/spool/rejected", 0o750), 0)
        _ = try SpoolDirectory(root: scratch.path + "/spool").open()
        XCTAssertEqual(scratch.mode("spool/rejected"), 0o700)
    }

    func testALinkInPlaceOfNewIsRefused() throws {
        let scratch = try Scratch()
        try scratch.directory("spool/tmp")
        try scratch.directory("spool/rejected")
        try scratch.directory("elsewhere")
        XCTAssertEqual(symlink(scratch.path + "/elsewhere", scratch.path + "/spool/new"), 0)
        XCTAssertThrowsError(try SpoolDirectory(root: scratch.path + "/spool").open()) { error in
            guard let error = error as? SpoolError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.exitStatus, .noPermission)
            XCTAssertEqual(error.path, scratch.path + "/spool/new")
            XCTAssertTrue(error.problem.contains("symlinks are refused"), error.problem)
        }
    }

    func testAWorldWritableDirectoryIsRefused() throws {
        let scratch = try Scratch()
        try scratch.directory("spool/new", mode: 0o777)
        XCTAssertThrowsError(try SpoolDirectory(root: scratch.path + "/spool").open()) { error in
            XCTAssertEqual((error as? SpoolError)?.exitStatus, .noPermission)
            XCTAssertTrue("\(error)".contains("world-writable"), "\(error)")
        }
    }

    func testARenamedNewIsNoticedAndTheDescriptorStillLeadsToTheOriginal() throws {
        let scratch = try Scratch()
        let spool = try SpoolDirectory(root: scratch.path + "/spool").open()
        let root = scratch.path + "/spool"
        XCTAssertEqual(rename(root + "/new", root + "/moved"), 0)
        try scratch.directory("decoy")
        XCTAssertEqual(symlink(scratch.path + "/decoy", root + "/new"), 0)
        let change = try XCTUnwrap(spool.layoutChange())
        XCTAssertTrue(change.contains("/new was renamed, removed or replaced"), change)
        try scratch.file("spool/moved/a.json", "{}")
        try scratch.file("decoy/b.json", "{}")
        XCTAssertEqual(try spool.pendingEntries().map(\.name), ["a.json"], "read through the held descriptor")
    }

    func testAMovedRootIsNoticed() throws {
        let scratch = try Scratch()
        let spool = try SpoolDirectory(root: scratch.path + "/spool").open()
        XCTAssertEqual(rename(scratch.path + "/spool", scratch.path + "/gone"), 0)
        try scratch.directory("spool")
        XCTAssertEqual(spool.layoutChange(), scratch.path + "/spool is no longer the spool directory the daemon opened")
    }

    func testAHeldDirectoryRefusesLinksAndFilesAndRemovesIdempotently() throws {
        let scratch = try Scratch()
        let real = try scratch.directory("real")
        XCTAssertEqual(symlink(real, scratch.path + "/link"), 0)
        try scratch.file("file")
        // O_DIRECTORY|O_NOFOLLOW: Linux refuses the link itself as "not a directory", never following it.
        XCTAssertThrowsError(try HeldDirectory(scratch.path + "/link")) {
            XCTAssertEqual(($0 as? SystemError)?.errno, ENOTDIR)
        }
        XCTAssertThrowsError(try HeldDirectory(scratch.path + "/file")) {
            XCTAssertEqual(($0 as? SystemError)?.errno, ENOTDIR)
        }
        let held = try HeldDirectory(real)
        try scratch.file("real/x")
        XCTAssertTrue(held.contains("x"))
        try held.remove("x")
        XCTAssertFalse(held.contains("x"))
        XCTAssertNoThrow(try held.remove("x"), "a name already gone is not an error")
        let parent = try HeldDirectory(scratch.path)
        XCTAssertTrue(held.isStill(named: "real", in: parent.fd))
        XCTAssertFalse(held.isStill(named: "link", in: parent.fd), "a link to it is not it")
    }
}
