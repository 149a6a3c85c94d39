import Foundation
import Glibc
import XCTest

/// Every kind of bad input is moved to rejected/ with a specific reason; nothing else is lost.
final class RejectionTests: XCTestCase {
    /// The hostile corpus, committed as files in `Tests/Corpus/check-ins/`; `reasons.tsv` gives each
    /// file's expected first reason (the field it names, `-` for none, and a phrase it contains) and
    /// how many reasons its `.why` lists (every problem of the check-in).
    static func corpus() throws -> [(name: String, content: [UInt8], field: String?, phrase: String, count: Int)] {
        let directory = Harness.repository + "/Tests/Corpus/check-ins"
        let table = try String(contentsOfFile: directory + "/reasons.tsv", encoding: .utf8)
        return try table.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { row in
            let columns = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count == 4, let count = Int(columns[3]) else {
                throw HarnessError("reasons.tsv: expected 4 columns, the last a number, in '\(row)'")
            }
            let content = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + columns[0]))
            return (columns[0], Array(content), columns[1] == "-" ? nil : columns[1], columns[2], count)
        }
    }

    func testEachKindOfBadInputIsRejectedWithItsReasonAndNothingIsLost() throws {
        let harness = try Harness()
        let corpus = try Self.corpus()
        let files = try FileManager.default.contentsOfDirectory(atPath: Harness.repository + "/Tests/Corpus/check-ins")
        XCTAssertEqual(
            corpus.map(\.name).sorted(), files.filter { $0 != "reasons.tsv" }.sorted(),
            "every file of Tests/Corpus/check-ins has its row in reasons.tsv, and every row its file")
        for item in corpus { try harness.drop(item.name, item.content) }
        try harness.drop("good.json", checkIn(id: "good"))
        // Not regular files: moved aside without being opened.
        XCTAssertEqual(symlink("/etc/passwd", harness.new + "/link.json"), 0)
        XCTAssertEqual(symlink(harness.root + "/missing", harness.new + "/dangling.json"), 0)
        XCTAssertEqual(mkfifo(harness.new + "/fifo.json", 0o600), 0)
        XCTAssertEqual(mkdir(harness.new + "/dir.json", 0o700), 0)
        let refusedUnopened = [
            "dangling.json": "symbolic link", "dir.json": "a directory", "fifo.json": "a FIFO",
            "link.json": "symbolic link",
        ]

        let daemon = try harness.startDaemon()
        try eventually("every file handled") { harness.names(in: harness.new).isEmpty }
        XCTAssertEqual(try harness.count("events"), 1, "only the good check-in is stored")
        XCTAssertEqual(try harness.count("rejected"), corpus.count + refusedUnopened.count)

        let rejected = Set(harness.names(in: harness.rejected))
        for item in corpus {
            XCTAssertTrue(rejected.contains(item.name), "\(item.name) kept in rejected/")
            let data = try Data(contentsOf: URL(fileURLWithPath: harness.rejected + "/" + item.name))
            XCTAssertEqual(Array(data), item.content, "\(item.name) kept byte for byte")
            let why = try whyErrors(harness, item.name)
            XCTAssertEqual(why.count, item.count, "\(item.name): \(why)")
            let error = why.first?["error"] as? String ?? ""
            XCTAssertTrue(error.contains(item.phrase), "\(item.name): '\(error)' should contain '\(item.phrase)'")
            if let field = item.field { XCTAssertEqual(why.first?["field"] as? String, field, item.name) }
        }
        for (name, phrase) in refusedUnopened {
            XCTAssertTrue(rejected.contains(name), "\(name) moved aside")
            let error = try whyErrors(harness, name).first?["error"] as? String ?? ""
            XCTAssertTrue(error.contains(phrase), "\(name): \(error)")
        }
        var info = stat()
        XCTAssertEqual(lstat(harness.rejected + "/link.json", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFLNK, "the symlink itself is moved, not its target")
        XCTAssertEqual(daemon.stop(), 0)
        XCTAssertTrue(daemon.log.contains("check-in rejected"), "each rejection is logged")
    }

    func testARejectedNameIsNeverOverwritten() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        try harness.drop("same.json", "{")
        try eventually { harness.names(in: harness.rejected).contains("same.json") }
        try harness.drop("same.json", "[")
        try eventually { harness.names(in: harness.rejected).contains("same.json~1") }
        XCTAssertEqual(try String(contentsOfFile: harness.rejected + "/same.json", encoding: .utf8), "{")
        XCTAssertEqual(try String(contentsOfFile: harness.rejected + "/same.json~1", encoding: .utf8), "[")
        XCTAssertEqual(daemon.stop(), 0)
    }

    /// Review findings: a stale temporary from a crash, an over-long name, and a batch that is mostly
    /// garbage must each still be moved aside, never stuck in new/.
    func testStaleTemporariesLongNamesAndGarbageBatchesAreStillRejected() throws {
        let harness = try Harness()
        // A crash mid-rejection used to leave this and block the rejection of "stale.json" forever.
        XCTAssertTrue(
            FileManager.default.createFile(atPath: harness.rejected + "/.stale.json.why.tmp", contents: Data()))
        try harness.drop("stale.json", "{")
        let longName = String(repeating: "n", count: 246) + ".json"
        try harness.drop(longName, "{")
        let garbage = String(repeating: "1\n", count: 3_000) + checkIn(id: "lost-in-garbage") + "\n"
        try harness.drop("garbage.jsonl", garbage)
        let daemon = try harness.startDaemon()
        try eventually("every file moved aside") { harness.names(in: harness.new).isEmpty }
        let rejected = harness.names(in: harness.rejected)
        XCTAssertTrue(rejected.contains("stale.json"), "\(rejected)")
        XCTAssertTrue(rejected.contains("garbage.jsonl"), "\(rejected)")
        XCTAssertTrue(
            rejected.contains { $0.hasPrefix(String(repeating: "n", count: 160) + "-") && $0.hasSuffix(".why") },
            "\(rejected)")
        XCTAssertEqual(
            try String(contentsOfFile: harness.rejected + "/garbage.jsonl", encoding: .utf8), garbage, "kept whole")
        let reasons = try whyErrors(harness, "garbage.jsonl")
        XCTAssertEqual(reasons.count, 101)
        XCTAssertTrue((reasons.last?["error"] as? String ?? "").contains("more than 1000 invalid lines"))
        XCTAssertEqual(try harness.count("events"), 0, "a refused batch stores nothing")
        XCTAssertEqual(daemon.stop(), 0)
    }

    func testADuplicateKeyIsNeverEchoedWhenItIsFreeText() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon()
        let key = #"he said he has pills\n2026 fake log line"#
        try harness.drop("dup.json", "{\"client\":\"c1\",\"\(key)\":1,\"\(key)\":2}")
        try eventually { harness.names(in: harness.rejected).contains("dup.json.why") }
        XCTAssertEqual(daemon.stop(), 0)
        let why = try String(contentsOfFile: harness.rejected + "/dup.json.why", encoding: .utf8)
        XCTAssertTrue(why.contains("<unprintable key>"), why)
        XCTAssertFalse(why.contains("pills") || daemon.log.contains("pills"), "free text in a key leaked")
    }

    func testSubmitRefusesABatchOverTheDaemonsLimit() throws {
        let harness = try Harness()
        let line = checkIn() + "\n"
        let big = String(repeating: line, count: 16 * 1024 * 1024 / line.utf8.count + 1)
        let path = harness.root + "/big.jsonl"
        try big.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try harness.run(["submit", path])
        XCTAssertEqual(result.status, 65, "\(result.status) \(result.stderr)")
        XCTAssertTrue(result.stderr.contains("split the batch"), result.stderr)
        XCTAssertEqual(harness.names(in: harness.new), [])
    }

    func whyErrors(_ harness: Harness, _ name: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: harness.rejected + "/" + name + ".why"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        XCTAssertEqual(object?["file"] as? String, name)
        XCTAssertNotNil(object?["rejected_at"] as? String)
        return object?["errors"] as? [[String: Any]] ?? []
    }

    /// Files rewritten in place at the same size, in 4-byte writes, right after they land in `new/`,
    /// alternating between two valid versions that differ only inside values, so any mix of them is
    /// itself a valid check-in with an id that never existed. Each file must be stored exactly as
    /// one of its two versions, never rejected, never lost. Mixed: none in the runs so far, and at
    /// most 2 % allowed (before the reader's checks it was about half): a writer preempted for
    /// longer than a tick in the middle of a rewrite, with the whole read in that pause, is the case
    /// the reader documents it cannot see, and a busy machine can make it happen.
    func testAFileRewrittenInPlaceWhileItIsReadIsRarelyIfEverStoredHalfOldHalfNew() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon(arguments: ["--log-level", "debug"])
        defer { _ = daemon.stop() }
        func version(_ index: Int, _ letter: Character, _ mood: Int) -> [UInt8] {
            let id = String(format: "rw-%04d-", index) + String(repeating: letter, count: 16)
            return Array(checkIn(id: id, client: "rw-\(letter)", extra: #","measures":{"mood":\#(mood)}"#).utf8)
        }
        let files = 300
        let rewrites = 24
        var versions: [String: Set<String>] = [:]
        for index in 0..<files {
            let (a, b) = (version(index, "a", 3), version(index, "b", 7))
            versions[String(format: "rw-%04d", index)] = [
                String(decoding: a, as: UTF8.self), String(decoding: b, as: UTF8.self),
            ]
            let name = "rewrite-\(index).json"
            try harness.drop(name, a)
            let fd = open(harness.new + "/" + name, O_WRONLY)
            guard fd >= 0 else { continue }  // already read and unlinked
            for round in 0..<rewrites {
                let content = round % 2 == 0 ? b : a
                for offset in stride(from: 0, to: content.count, by: 4) {
                    let end = min(content.count, offset + 4)
                    _ = content[offset..<end].withUnsafeBytes {
                        pwrite(fd, $0.baseAddress, end - offset, off_t(offset))
                    }
                }
            }
            close(fd)
        }
        try eventually("the spool drained") { harness.names(in: harness.new).isEmpty }
        XCTAssertTrue(daemon.process.isRunning)
        let bodies = try harness.query("select body from events where id like 'rw-%' order by id")
        var storedFiles: Set<String> = []
        var mixed: [String] = []
        for body in bodies {
            let key = String(body.drop { $0 != "r" }.prefix(7))
            if !(versions[key]?.contains(body) ?? false) { mixed.append(body) }
            XCTAssertTrue(storedFiles.insert(key).inserted, "\(key) stored twice")
        }
        XCTAssertLessThanOrEqual(mixed.count, files / 50, "stored half old, half new: \(mixed)")
        XCTAssertEqual(harness.names(in: harness.rejected), [], "a rewritten file is never rejected")
        XCTAssertEqual(storedFiles.count, files, "every file stored as one of its versions")
        // The race happened: the daemon caught files changing under its read (or too fresh to tell).
        let rereads = daemon.log.components(separatedBy: "changed while read, or too recently to tell").count - 1
        XCTAssertGreaterThan(rereads, 0, "no read overlapped a rewrite: the test proved nothing")
        print(
            "rewritten in place: \(files) files, \(rewrites) rewrites each in 4-byte writes; \(bodies.count - mixed.count) stored whole, \(mixed.count) mixed, \(rereads) reads retried"
        )
    }

    /// Files deleted or appended to right after they land in `new/`, racing the daemon's read: each
    /// is stored whole (read before the change), rejected with its reason (read after an append),
    /// or gone (deleted before it was read); never half-read, never both, and the daemon never stops.
    func testFilesThatVanishOrGrowWhileBeingReadAreNeverHalfStored() throws {
        let harness = try Harness()
        let daemon = try harness.startDaemon(arguments: ["--log-level", "info"])
        defer { _ = daemon.stop() }
        var deleted = 0
        var appended = 0
        for index in 0..<300 {
            let name = "race-\(index).json"
            try harness.drop(name, checkIn(id: "race-\(index)", client: "c-\(index % 7)"))
            if index % 3 == 0, unlink(harness.new + "/" + name) == 0 { deleted += 1 }
            if index % 5 == 1, let handle = FileHandle(forWritingAtPath: harness.new + "/" + name) {
                handle.seekToEndOfFile()
                handle.write(Data(" trailing garbage".utf8))
                handle.closeFile()
                appended += 1
            }
        }
        try eventually("the spool drained") { harness.names(in: harness.new).isEmpty }
        XCTAssertTrue(daemon.process.isRunning)
        let stored = Set(try harness.query("select id from events"))
        let rejected = harness.names(in: harness.rejected).filter { $0.hasSuffix(".json") }
        for name in rejected {
            let id = String(name.dropLast(5))
            XCTAssertFalse(stored.contains(id), "\(name) both stored and rejected")
            let why = try String(contentsOfFile: harness.rejected + "/" + name + ".why", encoding: .utf8)
            XCTAssertTrue(why.contains("not valid JSON"), "\(name): \(why)")
        }
        let gone = 300 - stored.count - rejected.count
        XCTAssertGreaterThanOrEqual(gone, 0)
        XCTAssertLessThanOrEqual(gone, deleted, "only deleted files may be missing")
        XCTAssertLessThanOrEqual(rejected.count, appended, "only files appended to are rejected")
        print(
            "vanish and grow: 300 files, \(deleted) deleted and \(appended) appended to while racing the daemon: "
                + "\(stored.count) stored whole, \(rejected.count) rejected with a reason, \(gone) gone before they were read"
        )
    }
}
