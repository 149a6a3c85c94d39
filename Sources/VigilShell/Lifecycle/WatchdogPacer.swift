import Foundation
import ServiceLifecycle
import VigilCore

/// Paces systemd's watchdog (`WATCHDOG=1`) for one process. The working loop (ingest in `vigil
/// serve`, the claim loop in `vigil notify`) calls `beat()` whenever it makes progress, at least
/// once per `interval`: between slices of a long drain and on every wake-up of its waits (see
/// `wait(for:upTo:)`). `WatchdogService` pings only while the last beat is recent, so a loop that
/// stalls is killed and restarted by systemd, however healthy the rest of the process is.
public final class WatchdogPacer: @unchecked Sendable {
    /// How often to ping (half the `WATCHDOG_USEC` systemd set), nil when the watchdog is off.
    public let interval: TimeSpan?
    /// Guards `lastBeat` (CLOCK_MONOTONIC microseconds).
    private let lock = NSLock()
    private var lastBeat = SystemClock.monotonicMicroseconds()

    public init(interval: TimeSpan?) { self.interval = interval }

    /// The working loop made progress.
    public func beat() {
        let now = SystemClock.monotonicMicroseconds()
        lock.withLock { lastBeat = now }
    }

    /// Whether the loop beat within the watchdog's timeout (two ping intervals).
    func isAlive(interval: TimeSpan) -> Bool {
        let now = SystemClock.monotonicMicroseconds()
        return lock.withLock { now - lastBeat <= 2 * interval.microseconds }
    }

    /// The longest the loop may go without a beat: `cap`, or a quarter of the ping interval if shorter.
    public func slice(atMost cap: TimeSpan) -> TimeSpan {
        guard let interval else { return cap }
        return TimeSpan(microseconds: min(cap.microseconds, interval.microseconds / 4))
    }

    /// Waits up to `timeout` for `signal`, beating at least once per ping interval (and every
    /// second); a graceful shutdown ends the wait at once. True when poked.
    public func wait(for signal: WakeSignal, upTo timeout: TimeSpan) async -> Bool {
        let step = TimeSpan(microseconds: min(interval?.microseconds ?? 1_000_000, 1_000_000))
        let until = SystemClock.monotonicMicroseconds() + timeout.microseconds
        return await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully {
                beat()
                let left = until - SystemClock.monotonicMicroseconds()
                guard left > 0 else { return false }
                if await signal.wait(upTo: TimeSpan(microseconds: min(left, step.microseconds))) { return true }
            }
            return false
        } onGracefulShutdown: {
            signal.poke()
        }
    }
}
