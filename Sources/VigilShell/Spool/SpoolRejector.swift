import Foundation
import Glibc
import VigilCore

/// Moves refused input into `rejected/`, beside a `NAME.why` JSON sidecar that says why.
///
/// Nothing is deleted: a whole file is renamed as it is; for a batch with some bad lines, the bad
/// lines are written to `rejected/NAME` (good lines were committed) before the original is unlinked.
/// Every operation is relative to the spool's held descriptors; what it writes is mode 0600.
public struct SpoolRejector: Sendable {
    public let spool: OpenSpool

    public init(spool: OpenSpool) { self.spool = spool }

    /// Moves `new/NAME` (of any file type) into `rejected/` with its reasons. Returns the name used there.
    @discardableResult
    public func rejectWhole(name: String, reasons: [Rejection], at time: Timestamp) throws(SystemError) -> String {
        let target = freeName(for: name)
        try writeWhy(target: target, original: name, reasons: reasons, at: time)
        guard renameat(spool.new.fd, name, spool.rejected.fd, target) == 0 else {
            let failure = SystemError("rename", path: spool.new.path + "/" + name)
            // No .why without its file: a retry (the spool full, say) would leave one more each time.
            unlinkat(spool.rejected.fd, target + ".why", 0)
            throw failure
        }
        return target
    }

    /// Writes the refused `lines` of batch `new/NAME` to `rejected/`, then unlinks the original.
    @discardableResult
    public func rejectLines(
        name: String, lines: [[UInt8]], reasons: [Rejection], at time: Timestamp
    ) throws(SystemError) -> String {
        let target = freeName(for: name)
        var content: [UInt8] = []
        for line in lines {
            content += line
            content.append(0x0A)
        }
        try writeAtomically(content, to: target)
        do {
            try writeWhy(target: target, original: name, reasons: reasons, at: time)
        } catch {
            // No lines without their .why: a retry would leave one more copy each time.
            unlinkat(spool.rejected.fd, target, 0)
            throw error
        }
        // The bad lines must be durable in rejected/ before the only other copy goes.
        try sync()
        try spool.new.remove(name)
        return target
    }

    /// Makes the renames into `rejected/` durable.
    public func sync() throws(SystemError) {
        try spool.rejected.sync()
    }

    /// The `.why` document: `{"errors": [{"error", "field"?, "line"?}], "file", "rejected_at"}`, one line.
    struct Why: Encodable {
        var file: String
        var rejectedAt: Timestamp
        var errors: [Rejection]

        enum CodingKeys: String, CodingKey {
            case file, errors
            case rejectedAt = "rejected_at"
        }
    }

    func writeWhy(target: String, original: String, reasons: [Rejection], at time: Timestamp) throws(SystemError) {
        let document = JSONOutput.data(Why(file: original, rejectedAt: time, errors: reasons)) + [0x0A]
        try writeAtomically(Array(document), to: target + ".why")
    }

    /// Writes a uniquely named temporary file in `rejected/`, fsyncs it and renames it to `NAME`
    /// (a temporary left by a crash never blocks a later rejection).
    func writeAtomically(_ bytes: [UInt8], to name: String) throws(SystemError) {
        let directory = spool.rejected
        let temporary = ".tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileWriting.writeSynced(
            bytes, to: temporary, in: directory.fd, path: directory.path + "/" + temporary,
            mode: SpoolDirectory.rejectedFileMode)
        guard renameat(directory.fd, temporary, directory.fd, name) == 0 else {
            let failure = SystemError("rename", path: directory.path + "/" + temporary)
            unlinkat(directory.fd, temporary, 0)
            throw failure
        }
    }

    /// `name`, or `name~N` when `rejected/` already holds that name (or its `.why`). A name too long to
    /// take a suffix and `.why` within NAME_MAX is shortened, keeping a hash of the whole name.
    func freeName(for name: String) -> String {
        var base = name
        if base.utf8.count > 200 {
            base =
                String(decoding: Array(name.utf8.prefix(160)), as: UTF8.self) + "-"
                + String(sha256Hex(Array(name.utf8)).prefix(16))
        }
        var candidate = base
        var suffix = 1
        while spool.rejected.contains(candidate) || spool.rejected.contains(candidate + ".why") {
            candidate = "\(base)~\(suffix)"
            suffix += 1
        }
        return candidate
    }
}
