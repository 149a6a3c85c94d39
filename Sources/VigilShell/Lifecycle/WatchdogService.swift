import ServiceLifecycle
import VigilCore

/// Sends `WATCHDOG=1` (and, if given, a STATUS line) once per ping interval while the working
/// loop is alive (see `WatchdogPacer`); does nothing when systemd set no watchdog. It is the
/// group's first service, so a graceful shutdown stops it last: pings go on while the others finish.
public struct WatchdogService: Service {
    let pacer: WatchdogPacer
    let systemd: SystemdNotifier
    /// The STATUS line to send with each ping (the notifier's counts), or nil.
    let status: @Sendable () -> String?

    public init(pacer: WatchdogPacer, systemd: SystemdNotifier, status: @escaping @Sendable () -> String? = { nil }) {
        self.pacer = pacer
        self.systemd = systemd
        self.status = status
    }

    public func run() async throws {
        guard let interval = pacer.interval else {
            try? await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if pacer.isAlive(interval: interval) {
                systemd.watchdog()
                if let line = status() { systemd.status(line) }
            }
            try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: .microseconds(interval.microseconds))
            }
        }
    }
}
