import Glibc

/// What one entry of `new/` turned out to be when the daemon opened it.
public enum SpoolEntry: Sendable {
    /// A regular file and its bytes.
    case file(name: String, bytes: [UInt8])
    /// Something the daemon refuses without reading it (symlink, FIFO, directory, oversized…).
    case refused(name: String, problem: String)
    /// Not handled now, and left in `new/` for a later scan: gone (`reason` nil), still being written,
    /// or a transient error (out of file descriptors or memory, an I/O error), which `reason` names.
    case skipped(name: String, reason: String?)

    public var name: String {
        switch self {
        case .file(let name, _), .refused(let name, _), .skipped(let name, _): return name
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

    /// Reads `directory/name`. `type` is the directory entry's type from readdir (`DT_*`): anything
    /// known not to be a regular file is refused without being opened.
    public static func read(name: String, in directory: String, type: UInt8 = UInt8(DT_UNKNOWN)) -> SpoolEntry {
        if type != UInt8(DT_UNKNOWN), type != UInt8(DT_REG) {
            // DT_* values are the S_IFMT bits shifted right by 12 (glibc's DTTOIF).
            return .refused(name: name, problem: "is \(kindDescription(mode_t(type) << 12)), not a regular file")
        }
        let path = directory + "/" + name
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
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
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .skipped(name: name, reason: "cannot be examined now: \(SystemError("fstat", path: name))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            return .refused(name: name, problem: "is \(kindDescription(info.st_mode)), not a regular file")
        }
        guard let format = Format(name: name) else {
            return .refused(name: name, problem: "has neither a .json nor a .jsonl extension")
        }
        let size = Int(info.st_size)
        guard size <= format.limit else {
            return .refused(name: name, problem: "is larger than \(format.limit) bytes (\(size))")
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
        bytes.removeLast()
        return .file(name: name, bytes: bytes)
    }

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
