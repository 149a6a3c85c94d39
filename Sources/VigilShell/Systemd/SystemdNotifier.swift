import CSystemd
import Glibc
import VigilCore

/// The service manager's notification socket (`sd_notify`): readiness, status, watchdog, reload, stop.
///
/// Every call is a no-op when `NOTIFY_SOCKET` is unset (not started by systemd).
public struct SystemdNotifier: Sendable {
    public init() {}

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    public func watchdog() { send("WATCHDOG=1") }
    public func stopping() { send("STOPPING=1\nSTATUS=stopping") }

    /// Before opening the store: a migration (v5 rebuilds the events table) can outlast systemd's
    /// start timeout on a large store, which would kill and restart the process mid-migration
    /// forever; this extends the start by `span` (sd_notify's EXTEND_TIMEOUT_USEC).
    public func openingStore(within span: TimeSpan) {
        send("EXTEND_TIMEOUT_USEC=\(span.microseconds)\nSTATUS=opening the store (migrating it if needed)")
    }

    /// Announces a reload; systemd waits for the next READY=1.
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(SystemClock.monotonicMicroseconds())")
    }

    /// How often to ping the watchdog: half the interval `sd_watchdog_enabled` reports, or nil when off.
    public func watchdogPingInterval() -> TimeSpan? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return TimeSpan(microseconds: Int64(usec / 2))
    }

    func send(_ state: String) {
        _ = sd_notify(0, state)
    }
}
