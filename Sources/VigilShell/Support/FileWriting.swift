import Glibc

/// Durable file writes.
public enum FileWriting {
    /// Creates `name` in the directory open as `directory` (`AT_FDCWD`: `name` is a path) exclusively
    /// with `mode`, writes `bytes`, fsyncs and closes it; `path` names it in errors.
    public static func writeSynced(
        _ bytes: [UInt8], to name: String, in directory: Int32 = AT_FDCWD, path: String? = nil, mode: mode_t
    ) throws(SystemError) {
        let path = path ?? name
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw SystemError("create", path: path) }
        var failure: SystemError?
        if fchmod(fd, mode) != 0 { failure = SystemError("fchmod", path: path) }
        var written = 0
        while failure == nil, written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return write(fd, base + written, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                failure = SystemError("write", path: path)
            } else {
                written += count
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = SystemError("fsync", path: path) }
        if close(fd) != 0, failure == nil { failure = SystemError("close", path: path) }
        if let failure {
            unlinkat(directory, name, 0)
            throw failure
        }
    }
}
