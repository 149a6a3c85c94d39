import Glibc
import VigilCore

/// Drops files into a spool the way every writer should: create in `tmp/`, fsync, rename into `new/`.
///
/// Used by `vigil submit` and `vigil bench`; other writers (intake apps, case-management exports)
/// follow the same protocol, documented in the README.
public struct SpoolWriter: Sendable {
    public let spool: SpoolDirectory
    /// Whether to fsync `new/` after each rename, so the file survives a crash as soon as we return.
    public var syncDirectory = true

    public init(spool: SpoolDirectory) { self.spool = spool }

    /// Writes `bytes` as a new spool file with the given extension (`json` or `jsonl`); returns its name.
    @discardableResult
    public func write(_ bytes: [UInt8], extension ext: String, now: Timestamp) throws(SystemError) -> String {
        let name = Self.uniqueName(now: now, extension: ext)
        let temporary = spool.tmp + "/" + name
        try FileWriting.writeSynced(bytes, to: temporary, mode: 0o640)
        let final = spool.new + "/" + name
        guard rename(temporary, final) == 0 else {
            let error = SystemError("rename", path: temporary)
            unlink(temporary)
            throw error
        }
        if syncDirectory { try SpoolDirectory.syncDirectory(spool.new) }
        return name
    }

    /// `SECONDS.MICROS_PID_RANDOM.EXT`: sorts by time, unique across processes and hosts sharing a spool.
    static func uniqueName(now: Timestamp, extension ext: String) -> String {
        let seconds = now.microseconds / 1_000_000
        let micros = String(now.microseconds % 1_000_000)
        let padded = String(repeating: "0", count: 6 - micros.count) + micros
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "\(seconds).\(padded)_\(getpid())_\(random).\(ext)"
    }
}
