import Glibc

/// Wakes the daemon when a file lands in `new/` (renamed in, or written there and closed).
///
/// Events carry no data we use: on wake the daemon rescans the directory, so a lost or
/// overflowed event costs latency, never a file (the periodic rescan is the safety net).
public final class InotifyWatch {
    public let fd: Int32

    /// Watches the held directory itself (through `/proc/self/fd`), not whatever its path names now.
    public init(directory: HeldDirectory) throws(SystemError) {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw SystemError("inotify_init1", path: directory.path) }
        let mask = UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR)
        guard inotify_add_watch(fd, "/proc/self/fd/\(directory.fd)", mask) >= 0 else {
            let error = SystemError("inotify_add_watch", path: directory.path)
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Reads and discards all pending events.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }
}
