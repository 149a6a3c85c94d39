import Foundation
import ServiceLifecycle
import VigilCore

/// Wakes one waiting task early: a poke that comes while nobody waits is kept for the next wait
/// (pokes in between coalesce into one). `poke()` never blocks, so a thread that watches a
/// descriptor, a delivery that ends or a graceful shutdown can end a service's wait at once.
public final class WakeSignal: @unchecked Sendable {
    /// Guards `pending` and `waiter`.
    private let lock = NSLock()
    private var pending = false
    private var waiter: CheckedContinuation<Bool, Never>?

    public init() {}

    /// Ends the current wait, or the next one.
    public func poke() {
        let waiting: CheckedContinuation<Bool, Never>? = lock.withLock {
            guard let waiting = waiter else {
                pending = true
                return nil
            }
            waiter = nil
            return waiting
        }
        waiting?.resume(returning: true)
    }

    /// Waits for a poke for at most `timeout`; true when poked (or a poke was pending).
    public func wait(upTo timeout: TimeSpan) async -> Bool {
        if lock.withLock({ () -> Bool in
            defer { pending = false }
            return pending
        }) {
            return true
        }
        guard timeout.microseconds > 0 else { return false }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.next() }
            group.addTask {
                try? await Task.sleep(for: .microseconds(timeout.microseconds))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// The next poke; false when the waiting task is cancelled first.
    private func next() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now: Bool? = lock.withLock {
                    if pending {
                        pending = false
                        return true
                    }
                    if Task.isCancelled { return false }
                    waiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiting = lock.withLock { () -> CheckedContinuation<Bool, Never>? in
                defer { waiter = nil }
                return waiter
            }
            waiting?.resume(returning: false)
        }
    }
}
