import CLinux
import Glibc

/// Delivers SIGTERM, SIGINT and SIGHUP as readable events on a file descriptor, so the daemon's
/// single poll loop handles them between batches, never in the middle of one.
///
/// Reading it from any one thread is safe (hence `Sendable`). Must be created before any thread is started: the signals are blocked in the calling thread and
/// every thread it starts later inherits that mask.
public final class SignalFD: @unchecked Sendable {
    public let fd: Int32

    public init(_ signals: [Int32]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        guard pthread_sigmask(SIG_BLOCK, &set, nil) == 0 else { throw SystemError("pthread_sigmask", path: "-") }
        fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else { throw SystemError("signalfd", path: "-") }
    }

    deinit { close(fd) }

    /// The next pending signal, or nil when none is pending.
    public func next() -> Int32? {
        var info = signalfd_siginfo()
        let count = withUnsafeMutableBytes(of: &info) { read(fd, $0.baseAddress, $0.count) }
        guard count == MemoryLayout<signalfd_siginfo>.size else { return nil }
        return Int32(info.ssi_signo)
    }
}
