import Foundation
import Glibc

/// Wakes a service when something happens to a held file or directory: a file landing in the
/// spool's `new/` (renamed in, or written there and closed), or a write to the notifier's wake file.
///
/// Events carry no data we use: on wake the service rescans, so a lost or overflowed event costs
/// latency, never a file (the periodic rescan and the notifier's poll are the safety nets).
public final class InotifyWatch: Sendable {
    let fd: Int32

    /// Watches the held directory itself (through `/proc/self/fd`), not whatever its path names now.
    public convenience init(directory: HeldDirectory) throws(SystemError) {
        try self.init(
            descriptor: directory.fd, path: directory.path, mask: UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR))
    }

    /// Watches the file or directory open as `descriptor` for the events of `mask`.
    init(descriptor: Int32, path: String, mask: UInt32) throws(SystemError) {
        fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { throw SystemError("inotify_init1", path: path) }
        guard inotify_add_watch(fd, "/proc/self/fd/\(descriptor)", mask) >= 0 else {
            let error = SystemError("inotify_add_watch", path: path)
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Pokes `signal` after each batch of events, from a thread of its own blocked in read(2) (no
    /// thread of Swift's pool waits on the descriptor), for the life of the process.
    public func forward(to signal: WakeSignal) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    signal.poke()
                } else if count < 0 && errno != EINTR {
                    return
                }
            }
        }
        thread.name = "inotify"
        thread.start()
    }
}
