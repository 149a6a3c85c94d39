import ServiceLifecycle
import VigilCore

/// Moves check-ins from the spool into the store: the backlog first, then READY=1; then a drain on
/// every inotify wake-up and every rescan (the safety net for lost events); while the store
/// cannot be written, a retry on `RetryPolicy.storeOutage`'s backoff. The working loop the
/// watchdog watches: it beats on every wake-up and between the slices of a drain.
struct IngestService: Service {
    enum State {
        /// Before READY=1: the backlog is drained first.
        case catchingUp
        /// Waiting for new files or the next rescan.
        case serving
        /// The last `failures` drains failed; the next one is at `retryAt` (CLOCK_MONOTONIC µs).
        case waitingForStore(failures: Int, retryAt: Int64)
    }

    let core: DaemonCore
    let watch: InotifyWatch
    let pacer: WatchdogPacer
    let rescanInterval: TimeSpan
    /// Runs right after READY=1 (a test binary injects its faults here).
    let afterReady: @Sendable () async -> Void

    func run() async {
        let spoolChanged = WakeSignal()
        watch.forward(to: spoolChanged)
        var state = State.catchingUp
        var nextRescan = SystemClock.monotonicMicroseconds() + rescanInterval.microseconds
        while !Task.isShuttingDownGracefully {
            switch state {
            case .catchingUp:
                await core.awaitAbsencesIfThePackChanged()
                state = await drain(after: 0)
                await core.ready()
                await afterReady()
            case .serving, .waitingForStore:
                let deadline = min(nextRescan, state.retryAt ?? .max)
                let woke = await pacer.wait(
                    for: spoolChanged, upTo: TimeSpan(microseconds: deadline - SystemClock.monotonicMicroseconds()))
                let now = SystemClock.monotonicMicroseconds()
                var due = woke
                if now >= nextRescan {
                    await core.retryStuck()
                    nextRescan = now + rescanInterval.microseconds
                    due = true
                }
                if case .waitingForStore(let failures, let retryAt) = state {
                    if now >= retryAt { state = await drain(after: failures) }
                } else if due && !Task.isShuttingDownGracefully {
                    state = await drain(after: 0)
                }
            }
        }
    }

    /// One drain, then STATUS=; on success, the absences it may have settled are decided.
    func drain(after failures: Int) async -> State {
        let next: State
        if await core.drain() {
            await core.decideAbsences()
            next = .serving
        } else {
            let delay = RetryPolicy.storeOutage.delay(after: failures + 1)
            next = .waitingForStore(
                failures: failures + 1, retryAt: SystemClock.monotonicMicroseconds() + delay.microseconds)
        }
        await core.reportStatus()
        return next
    }
}

extension IngestService.State {
    var retryAt: Int64? {
        guard case .waitingForStore(_, let retryAt) = self else { return nil }
        return retryAt
    }
}
