import Glibc
import Logging

/// Wakes `vigil notify` as soon as `vigil serve` commits a task that is due now, instead of at its
/// next poll (the poll interval stays the fallback). Both run as user `vigil` and share the
/// private state directory: the daemon writes one byte at the start of `STATE/notifier.wake`
/// (mode 0600, opened once by descriptor, never through a link) and the notifier watches that
/// file with inotify. A lost poke (the notifier not running, the write failing) costs at most
/// one poll interval, never a task: the queue in the store is the only source of work.
public final class NotifierWake: Sendable {
    public static let fileName = "notifier.wake"
    let fd: Int32
    let path: String

    /// Opens (creating it if needed) the wake file in the state directory.
    public init(state: String) throws(SystemError) {
        path = state + "/" + Self.fileName
        fd = Glibc.open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            let error = SystemError("open (not a regular file)", path: path, errno: EINVAL)
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// The daemon's side, after a commit that enqueued a task deliverable now: one `pwrite` of
    /// the page cache, never blocking; its failure is ignored (the notifier polls anyway).
    public func poke() {
        var byte: UInt8 = 0x21
        _ = pwrite(fd, &byte, 1, 0)
    }

    /// The notifier's side: `signal` is poked after every `poke()`, by any process.
    public func forward(to signal: WakeSignal) throws(SystemError) {
        try InotifyWatch(descriptor: fd, path: path, mask: UInt32(IN_MODIFY)).forward(to: signal)
    }
}

extension NotifierWake {
    /// The wake file, or nil (logged) when it cannot be opened: then the notifier only polls.
    public static func open(state: String, logger: Logger) -> NotifierWake? {
        do {
            return try NotifierWake(state: state)
        } catch {
            logger.log(
                .warning, .started, "cannot open the notifier's wake file; the notifier finds new tasks by polling",
                ["error": "\(error)"])
            return nil
        }
    }
}
