import Glibc

/// A Maildir-style spool: writers create files in `tmp/`, fsync, and rename them into `new/`;
/// the daemon takes them from `new/`; what it cannot accept goes to `rejected/` with a `.why` sidecar.
public struct SpoolDirectory: Sendable {
    public let root: String
    public var tmp: String { root + "/tmp" }
    public var new: String { root + "/new" }
    public var rejected: String { root + "/rejected" }

    /// Spool directories are setgid and group-writable so a Unix group of writers may drop files;
    /// `rejected/` is readable by the group but written only by the daemon.
    static let writableMode: mode_t = 0o2770
    static let rejectedMode: mode_t = 0o2750

    public init(root: String) { self.root = root }

    /// Creates the spool directories that are missing, then checks that none is unsafe.
    public func prepare() throws(SpoolError) {
        try DirectorySafety.create(root, mode: Self.writableMode)
        try DirectorySafety.create(tmp, mode: Self.writableMode)
        try DirectorySafety.create(new, mode: Self.writableMode)
        try DirectorySafety.create(rejected, mode: Self.rejectedMode)
        for path in [root, tmp, new, rejected] { try DirectorySafety.check(path) }
    }

    /// The names in `new/`, sorted (writers' names start with the time, so this is arrival order).
    public func pendingNames() throws(SystemError) -> [String] {
        try pendingEntries().map(\.name)
    }

    /// The entries of `new/` with their readdir types, sorted by name.
    public func pendingEntries() throws(SystemError) -> [Entry] {
        try Self.entries(in: new).sorted { $0.name < $1.name }
    }

    /// A directory entry: its name and `d_type` (`DT_REG`, `DT_FIFO`…, or `DT_UNKNOWN`).
    public struct Entry: Sendable, Hashable {
        public let name: String
        public let type: UInt8
    }

    /// How many entries wait in `new/` (0 when it cannot be read).
    public func backlog() -> Int { (try? Self.names(in: new).count) ?? 0 }

    static func names(in directory: String) throws(SystemError) -> [String] {
        try entries(in: directory).map(\.name)
    }

    static func entries(in directory: String) throws(SystemError) -> [Entry] {
        guard let handle = opendir(directory) else { throw SystemError("opendir", path: directory) }
        defer { closedir(handle) }
        var entries: [Entry] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { entries.append(Entry(name: name, type: entry.pointee.d_type)) }
        }
        return entries
    }

    /// fsync a directory so that renames and creations in it survive a crash.
    static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemError("fsync", path: path) }
    }
}

/// A spool or state directory that cannot be used safely.
public struct SpoolError: ExitStatusProviding, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public let exitStatus: ExitStatus

    public var description: String { "\(path): \(problem)" }
}

/// Creation and ownership checks shared by the spool and the state directory.
public enum DirectorySafety {
    /// Creates `path` with `mode` (exactly, whatever the umask) if it does not exist.
    public static func create(_ path: String, mode: mode_t) throws(SpoolError) {
        var info = stat()
        if lstat(path, &info) == 0 { return }
        guard errno == ENOENT else {
            throw SpoolError(path: path, problem: SystemError("stat", path: path).description, exitStatus: .ioError)
        }
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty, lstat(parent, &info) != 0 { try create(parent, mode: 0o755) }
        guard mkdir(path, mode) == 0 || errno == EEXIST else {
            throw SpoolError(
                path: path, problem: "cannot create: \(SystemError("mkdir", path: path))", exitStatus: .ioError)
        }
        chmod(path, mode)
    }

    /// Refuses a directory that is a symlink, not a directory, world-writable, or owned by another user
    /// (root may use any directory owned by root or by itself).
    public static func check(_ path: String) throws(SpoolError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw SpoolError(path: path, problem: SystemError("stat", path: path).description, exitStatus: .ioError)
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw SpoolError(
                path: path, problem: "is not a directory (symlinks are refused)", exitStatus: .noPermission)
        }
        guard info.st_mode & S_IWOTH == 0 else {
            throw SpoolError(
                path: path, problem: "is world-writable (mode \(String(info.st_mode & 0o7777, radix: 8))); refusing it",
                exitStatus: .noPermission)
        }
        guard info.st_uid == geteuid() else {
            throw SpoolError(
                path: path, problem: "is owned by uid \(info.st_uid), not by this user (uid \(geteuid())); refusing it",
                exitStatus: .noPermission)
        }
    }
}
