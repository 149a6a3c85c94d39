import Glibc

/// A directory held open by descriptor (`O_DIRECTORY|O_NOFOLLOW`) with the device and inode it had
/// when opened. The daemon acts on spool files only relative to such descriptors, so a writer that
/// swaps a path (a renamed `new/`, a symlink in its place) can never point it at another directory:
/// `isStill(named:in:)` tells that the path no longer leads here.
public final class HeldDirectory: Sendable {
    /// The path it was opened by (for messages only; never used to act).
    public let path: String
    public let fd: Int32
    let device: UInt64
    let inode: UInt64

    /// Opens `name` relative to the directory `parent` (`AT_FDCWD`: `name` is a path), refusing a
    /// symbolic link in its last component and anything that is not a directory.
    public init(_ name: String, in parent: Int32 = AT_FDCWD, path: String? = nil) throws(SystemError) {
        let path = path ?? name
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = SystemError("fstat", path: path)
            close(fd)
            throw error
        }
        self.path = path
        self.fd = fd
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
    }

    deinit { close(fd) }

    /// The directory's current status (through the descriptor).
    public func status() throws(SystemError) -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError("fstat", path: path) }
        return info
    }

    /// Whether `name` in `parent` (without following a link) is still this directory.
    public func isStill(named name: String, in parent: Int32) -> Bool {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// The entries (with their readdir types), read through a fresh descriptor of this directory.
    public func entries() throws(SystemError) -> [SpoolDirectory.Entry] {
        let own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard own >= 0, let handle = fdopendir(own) else {
            if own >= 0 { close(own) }
            throw SystemError("opendir", path: path)
        }
        defer { closedir(handle) }
        var entries: [SpoolDirectory.Entry] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." {
                entries.append(SpoolDirectory.Entry(name: name, type: entry.pointee.d_type))
            }
        }
        return entries
    }

    /// fsync, so that renames and creations in it survive a crash.
    public func sync() throws(SystemError) {
        guard fsync(fd) == 0 else { throw SystemError("fsync", path: path) }
    }

    /// Unlinks `name`; a name already gone is not an error.
    public func remove(_ name: String) throws(SystemError) {
        guard unlinkat(fd, name, 0) == 0 || errno == ENOENT else {
            throw SystemError("unlink", path: path + "/" + name)
        }
    }

    /// Whether anything (of any type) is called `name` here.
    public func contains(_ name: String) -> Bool {
        var info = stat()
        return fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0
    }
}
