import Glibc

/// What one entry of `new/` turned out to be when the daemon opened it.
public enum SpoolEntry: Sendable {
    /// A regular file and its bytes; `trusted` when its owner is root or the daemon's own user (the
    /// API, `vigil queue`), the only writers whose acts on tasks the daemon accepts.
    case file(name: String, bytes: [UInt8], trusted: Bool = true)
    /// Something the daemon refuses (symlink, FIFO, directory, oversized…); `sample` holds up to
    /// 1 MiB of a regular file refused for its name, size or mode, so a crisis in it is still seen.
    case refused(name: String, problem: String, sample: [UInt8] = [])
    /// Not handled now, and left in `new/` for a later scan: gone (`reason` nil), still being appended
    /// to, or a transient error (out of file descriptors or memory, an I/O error), which `reason` names.
    case skipped(name: String, reason: String?)
    /// Changed while it was read, or written so recently that a change during the read could not
    /// be told from its timestamps: left in `new/` and read again shortly (see `SpoolReader.read`).
    case unsettled(name: String)

    public var name: String {
        switch self {
        case .file(let name, _, _), .refused(let name, _, _), .skipped(let name, _), .unsettled(let name): return name
        }
    }
}

/// Reads spool files without following links or blocking on FIFOs.
public enum SpoolReader {
    /// The largest `.jsonl` batch file accepted (each line is further limited to 64 KiB).
    public static let maxBatchBytes = 16 * 1024 * 1024

    /// The file kinds a spool accepts, by name.
    public enum Format: Sendable {
        case single, batch

        public init?(name: String) {
            if name.hasSuffix(".jsonl") {
                self = .batch
            } else if name.hasSuffix(".json") {
                self = .single
            } else {
                return nil
            }
        }

        var limit: Int { self == .batch ? SpoolReader.maxBatchBytes : 64 * 1024 }
    }

    /// Reads `name` in the directory open as `directory`. `type` is the directory entry's type from readdir (`DT_*`): anything
    /// known not to be a regular file is refused without being opened.
    ///
    /// A file rewritten in place (against the spool's protocol: write in `tmp/`, then rename) by a
    /// write that overlaps the read must not be stored half old, half new. Its size, mtime and ctime
    /// are compared before and after the read, and any change makes it `.unsettled`. Timestamps come
    /// from the kernel's coarse clock and are set when a write starts, so a write in the same tick as
    /// the previous one, or one stamped in the tick before the read and still copying, may leave them
    /// unchanged: a file whose mtime falls from one tick before the read began to a second after it
    /// ended (see `writtenDuring`) is therefore unsettled too, and read again shortly. (Since Linux 6.13,
    /// ext4, xfs, btrfs and tmpfs give a write after our `fstat` a new ctime anyway.) A writer that
    /// pauses longer than a tick between the writes of one rewrite, with the read in the pause, cannot
    /// be told from a finished file; only the protocol prevents that.
    public static func read(name: String, in directory: Int32, type: UInt8 = UInt8(DT_UNKNOWN)) -> SpoolEntry {
        if type != UInt8(DT_UNKNOWN), type != UInt8(DT_REG) {
            // DT_* values are the S_IFMT bits shifted right by 12 (glibc's DTTOIF).
            return .refused(name: name, problem: "is \(kindDescription(mode_t(type) << 12)), not a regular file")
        }
        let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if fd < 0 {
            switch errno {
            case ENOENT: return .skipped(name: name, reason: nil)
            case ELOOP: return .refused(name: name, problem: "is a symbolic link; only regular files are read")
            case EACCES, EPERM:
                return .refused(name: name, problem: "cannot be opened: \(SystemError("open", path: name))")
            default:
                return .skipped(name: name, reason: "cannot be opened now: \(SystemError("open", path: name))")
            }
        }
        defer { close(fd) }
        let began = coarseNow()
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .skipped(name: name, reason: "cannot be examined now: \(SystemError("fstat", path: name))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            return .refused(name: name, problem: "is \(kindDescription(info.st_mode)), not a regular file")
        }
        let size = Int(info.st_size)
        // Another writer in the group could have rewritten it: the sticky bit stops a rename or an
        // unlink, not a write.
        guard info.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            return .refused(
                name: name,
                problem:
                    "is writable by other writers (mode \(String(info.st_mode & 0o777, radix: 8))), so another writer could "
                    + "have changed it: create spool files 0640 or stricter", sample: sample(fd, size: size))
        }
        guard let format = Format(name: name) else {
            return .refused(
                name: name, problem: "has neither a .json nor a .jsonl extension", sample: sample(fd, size: size))
        }
        guard size <= format.limit else {
            return .refused(
                name: name, problem: "is larger than \(format.limit) bytes (\(size))", sample: sample(fd, size: size))
        }
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var total = 0
        while total < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return Glibc.read(fd, base + total, buffer.count - total)
            }
            if count < 0 {
                if errno == EINTR { continue }
                return .skipped(name: name, reason: "cannot be read now: \(SystemError("read", path: name))")
            }
            if count == 0 { break }
            total += count
            // A short read that ends exactly at the size fstat gave is end-of-file: no second call needed.
            if total == size { break }
        }
        // One byte more than the size was asked for: getting it means a writer is still appending.
        guard total == size else { return .skipped(name: name, reason: nil) }
        var after = stat()
        guard fstat(fd, &after) == 0 else {
            return .skipped(name: name, reason: "cannot be examined now: \(SystemError("fstat", path: name))")
        }
        if !unchanged(info, after) || writtenDuring(began: began, ended: coarseNow(), mtime: nanoseconds(info.st_mtim))
        {
            return .unsettled(name: name)
        }
        bytes.removeLast()
        return .file(name: name, bytes: bytes, trusted: info.st_uid == 0 || info.st_uid == geteuid())
    }

    /// Up to 1 MiB from the start of a refused file, for the crisis check (empty when unreadable).
    static func sample(_ fd: Int32, size: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: min(size, 1 << 20))
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return Array(bytes.prefix(max(0, count)))
    }

    /// Same size, mtime and ctime (to the nanosecond).
    static func unchanged(_ before: stat, _ after: stat) -> Bool {
        before.st_size == after.st_size && before.st_mtim.tv_sec == after.st_mtim.tv_sec
            && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec && before.st_ctim.tv_sec == after.st_ctim.tv_sec
            && before.st_ctim.tv_nsec == after.st_ctim.tv_nsec
    }

    /// Whether `mtime` falls from one tick before `began` to a second after `ended` (the coarse clock
    /// when the read began and ended, in nanoseconds): a write it cannot see could then carry the
    /// same mtime. The second, not a tick: a write's fine-grained stamp can run ahead of the coarse
    /// clock, which lags by more than a tick on a tickless kernel (a tick's margin let about one
    /// rewrite in 200 through). A file dated later still (copied with its times from a host whose
    /// clock is ahead, `touch -d`) is not waited for.
    static func writtenDuring(began: Int64, ended: Int64, mtime: Int64) -> Bool {
        mtime >= began - tick && mtime <= ended + 1_000_000_000
    }

    /// The coarse clock's resolution in nanoseconds (one kernel tick: 4 ms at HZ=250).
    static let tick: Int64 = {
        var resolution = timespec()
        guard clock_getres(CLOCK_REALTIME_COARSE, &resolution) == 0 else { return 10_000_000 }
        return max(1, nanoseconds(resolution))
    }()

    static func coarseNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        return nanoseconds(now)
    }

    static func nanoseconds(_ time: timespec) -> Int64 { Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec) }

    static func kindDescription(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }
}
