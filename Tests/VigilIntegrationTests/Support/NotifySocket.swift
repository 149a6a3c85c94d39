import Foundation
import Glibc

/// A stand-in for systemd's notification socket: a Unix datagram socket that records every message.
final class NotifySocket: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [(at: Date, message: String)] = []
    private var thread: Thread?

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw HarnessError("socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw HarnessError("bind \(path) failed: \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while let self, !Thread.current.isCancelled {
                let count = buffer.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    let message = String(decoding: buffer[0..<count], as: UTF8.self)
                    self.lock.withLock { self.received.append((Date(), message)) }
                }
            }
        }
        self.thread = thread
        thread.start()
    }

    deinit {
        thread?.cancel()
        usleep(200_000)
        close(fd)
        unlink(path)
    }

    /// Every message so far, in arrival order.
    var messages: [String] { lock.withLock { received.map(\.message) } }

    /// When each `WATCHDOG=1` arrived.
    var watchdogPings: [Date] {
        lock.withLock { received.filter { $0.message.split(separator: "\n").contains("WATCHDOG=1") }.map(\.at) }
    }

    /// Every `KEY=value` line of every message so far.
    var assignments: [String] { messages.flatMap { $0.split(separator: "\n").map(String.init) } }
}
