import ServiceLifecycle
import VigilCore

/// The notifier's claim-and-deliver loop as a service (see `Notifier.run`). With `once` it
/// returns when nothing is due and nothing is in flight, which ends the group.
struct NotifierWorker: Service {
    let notifier: Notifier
    let once: Bool
    let wake: WakeSignal
    let pacer: WatchdogPacer

    func run() async throws {
        try await notifier.run(once: once, wake: wake, pacer: pacer)
    }
}
