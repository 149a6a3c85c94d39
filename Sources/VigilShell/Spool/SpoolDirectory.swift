import Glibc
import VigilCore

/// A Maildir-style spool: writers create files in `tmp/`, fsync, and rename them into `new/`;
/// the daemon takes them from `new/`; what it cannot accept goes to `rejected/` with a `.why` sidecar.
///
/// The modes give writers (the `vigil-submit` group) exactly what the protocol needs, as Postfix's
/// maildrop does: the root is not writable by them, so `new/` cannot be renamed or replaced by a
/// link; `tmp/` and `new/` are sticky, so a writer can remove or rename only its own files; and
/// `rejected/` is the daemon's alone, so no writer reads another's refused check-in.
public struct SpoolDirectory: Sendable {
    public let root: String
    public var tmp: String { root + "/tmp" }
    public var new: String { root + "/new" }
    public var rejected: String { root + "/rejected" }

    /// The root: writers may enter it, not change it (setgid, so the group is inherited).
    public static let rootMode: mode_t = 0o2750
    /// `tmp/` and `new/`: group-writable, setgid and sticky.
    public static let dropMode: mode_t = 0o3770
    /// `rejected/`: the daemon's only.
    public static let rejectedMode: mode_t = 0o700
    /// Files the daemon writes into `rejected/`.
    static let rejectedFileMode: mode_t = 0o600

    /// The subdirectories and their modes.
    static let layout: [(name: String, mode: mode_t)] = [
        ("tmp", dropMode), ("new", dropMode), ("rejected", rejectedMode),
    ]

    public init(root: String) { self.root = root }

    /// Creates what is missing, opens every directory by descriptor, refuses an unsafe one (a link,
    /// not a directory, owned by another user, world-writable) and sets each to its mode. The daemon
    /// does everything after this through the descriptors (see `OpenSpool`).
    public func open() throws(SpoolError) -> OpenSpool {
        try DirectorySafety.create(root, mode: Self.rootMode)
        let held = try DirectorySafety.hold(root, in: AT_FDCWD, path: root, mode: Self.rootMode)
        var subdirectories: [HeldDirectory] = []
        for (name, mode) in Self.layout {
            let path = root + "/" + name
            // Only when missing: under systemd's RestrictSUIDSGID a setgid mode is refused (EPERM)
            // even for a directory that exists.
            if !held.contains(name), mkdirat(held.fd, name, mode) != 0, errno != EEXIST {
                throw SpoolError(
                    path: path, problem: "cannot create: \(SystemError("mkdir", path: path))", exitStatus: .ioError)
            }
            subdirectories.append(try DirectorySafety.hold(name, in: held.fd, path: path, mode: mode))
        }
        return OpenSpool(layout: self, root: held, directories: subdirectories)
    }

    /// The names in `new/`, sorted (writers' names start with the time, so this is arrival order).
    public func pendingNames() throws(SystemError) -> [String] {
        try Self.names(in: new).sorted()
    }

    /// A directory entry: its name and `d_type` (`DT_REG`, `DT_FIFO`…, or `DT_UNKNOWN`).
    public struct Entry: Sendable, Hashable {
        public let name: String
        public let type: UInt8
    }

    /// How many entries wait in `new/` (0 when it cannot be read).
    public func backlog() -> Int { (try? Self.names(in: new).count) ?? 0 }

    /// When the oldest entry waiting in `new/` was last written (nil: none, or unreadable).
    public func oldestPending() -> Timestamp? {
        guard let directory = try? HeldDirectory(new), let entries = try? directory.entries() else { return nil }
        var oldest: Timestamp?
        for entry in entries {
            var info = stat()
            guard fstatat(directory.fd, entry.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let written = Timestamp(
                microseconds: Int64(info.st_mtim.tv_sec) * 1_000_000 + Int64(info.st_mtim.tv_nsec) / 1000)
            oldest = min(oldest ?? written, written)
        }
        return oldest
    }

    /// The names in a directory, opened without following a link.
    static func names(in directory: String) throws(SystemError) -> [String] {
        try HeldDirectory(directory).entries().map(\.name)
    }
}

/// The spool, held open by descriptor from the daemon's start: every read, unlink and move is
/// relative to these descriptors, never to a path a writer could have changed since.
public final class OpenSpool: Sendable {
    public let layout: SpoolDirectory
    let root: HeldDirectory
    public let tmp: HeldDirectory
    public let new: HeldDirectory
    public let rejected: HeldDirectory

    init(layout: SpoolDirectory, root: HeldDirectory, directories: [HeldDirectory]) {
        self.layout = layout
        self.root = root
        self.tmp = directories[0]
        self.new = directories[1]
        self.rejected = directories[2]
    }

    /// The entries of `new/` with their readdir types, sorted by name.
    public func pendingEntries() throws(SystemError) -> [SpoolDirectory.Entry] {
        try new.entries().sorted { $0.name < $1.name }
    }

    /// How many entries wait in `new/` (0 when it cannot be read).
    public func backlog() -> Int { (try? new.entries().count) ?? 0 }

    /// What no longer leads where it did when the spool was opened (the root's path, or a
    /// subdirectory's name in the root), or nil. The daemon goes on through its descriptors, so
    /// nothing is read from or moved to the place a changed path now names.
    public func layoutChange() -> String? {
        var info = stat()
        if lstat(layout.root, &info) != 0 || UInt64(info.st_dev) != root.device || UInt64(info.st_ino) != root.inode {
            return "\(layout.root) is no longer the spool directory the daemon opened"
        }
        for (name, directory) in [("tmp", tmp), ("new", new), ("rejected", rejected)]
        where !directory.isStill(named: name, in: root.fd) {
            return "\(directory.path) was renamed, removed or replaced (by a link or another directory)"
        }
        return nil
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

    /// Opens `name` in `parent` as a held directory, refuses it when unsafe (see `check`) and sets
    /// its mode to `mode` through the descriptor.
    static func hold(_ name: String, in parent: Int32, path: String, mode: mode_t) throws(SpoolError) -> HeldDirectory {
        let held: HeldDirectory
        let info: stat
        do {
            held = try HeldDirectory(name, in: parent, path: path)
            info = try held.status()
        } catch {
            let unsafe = error.errno == ELOOP || error.errno == ENOTDIR
            throw SpoolError(
                path: path,
                problem: unsafe ? "is not a directory (symlinks are refused)" : error.description,
                exitStatus: unsafe ? .noPermission : .ioError)
        }
        try check(info, path: path)
        guard info.st_mode & 0o7777 == mode || fchmod(held.fd, mode) == 0 else {
            throw SpoolError(
                path: path,
                problem:
                    "has mode \(String(info.st_mode & 0o7777, radix: 8)), not \(String(mode, radix: 8)), and cannot be set: "
                    + "\(SystemError("fchmod", path: path)) (under systemd, run `systemd-tmpfiles --create vigil.conf`)",
                exitStatus: .noPermission)
        }
        return held
    }

    /// Refuses a directory that is a symlink, not a directory, world-writable, or owned by another user
    /// (root may use any directory owned by root or by itself).
    public static func check(_ path: String) throws(SpoolError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw SpoolError(path: path, problem: SystemError("stat", path: path).description, exitStatus: .ioError)
        }
        try check(info, path: path)
    }

    static func check(_ info: stat, path: String) throws(SpoolError) {
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
