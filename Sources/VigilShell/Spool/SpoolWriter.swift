import Glibc
import VigilCore

/// Drops files into a spool the way every writer should: create in `tmp/`, fsync, rename into `new/`.
///
/// Used by `vigil submit` and `vigil bench`; other writers (intake apps, case-management exports)
/// follow the same protocol, documented in the README. `tmp/` and `new/` are opened once, without
/// following links, and every write is relative to them.
public struct SpoolWriter: Sendable {
    public let spool: SpoolDirectory
    let tmp: HeldDirectory
    let new: HeldDirectory
    /// Whether to fsync `new/` after each rename, so the file survives a crash as soon as we return.
    public var syncDirectory = true
    /// Mode of the files written: the daemon reads them through the spool's group.
    static let fileMode: mode_t = 0o640

    public init(spool: SpoolDirectory) throws(SystemError) {
        self.spool = spool
        let root = try HeldDirectory(spool.root)
        tmp = try HeldDirectory("tmp", in: root.fd, path: spool.tmp)
        new = try HeldDirectory("new", in: root.fd, path: spool.new)
    }

    /// Writes `bytes` as a new spool file with the given extension (`json` or `jsonl`); returns its name.
    @discardableResult
    public func write(_ bytes: [UInt8], extension ext: String, now: Timestamp) throws(SystemError) -> String {
        let name = Self.uniqueName(now: now, extension: ext)
        try FileWriting.writeSynced(bytes, to: name, in: tmp.fd, path: tmp.path + "/" + name, mode: Self.fileMode)
        guard renameat(tmp.fd, name, new.fd, name) == 0 else {
            let error = SystemError("rename", path: tmp.path + "/" + name)
            unlinkat(tmp.fd, name, 0)
            throw error
        }
        if syncDirectory { try new.sync() }
        return name
    }

    /// fsyncs `new/` (after writes with `syncDirectory` off).
    public func sync() throws(SystemError) { try new.sync() }

    /// `SECONDS.MICROS_PID_RANDOM.EXT`: sorts by time, unique across processes and hosts sharing a spool.
    static func uniqueName(now: Timestamp, extension ext: String) -> String {
        let seconds = now.microseconds / 1_000_000
        let micros = String(now.microseconds % 1_000_000)
        let padded = String(repeating: "0", count: 6 - micros.count) + micros
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "\(seconds).\(padded)_\(getpid())_\(random).\(ext)"
    }
}
