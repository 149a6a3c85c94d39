import ServiceLifecycle
import UnixSignals

/// SIGTERM and SIGINT, trapped before a daemon announces that it started: a stop that arrives
/// between the announcement (the journal's "started", systemd's READY=1) and the service group's
/// first step is held and becomes a graceful shutdown, never the signal's default death.
public struct ShutdownSignals: Sendable {
    private let signals: UnixSignalsSequence

    public init() async {
        signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
    }

    /// Runs `group` (configured without signals of its own), shutting it down gracefully at each
    /// trapped signal.
    public func run(_ group: ServiceGroup) async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            // Weakly: the group (and through its services, the store) must not outlive `run` in a
            // child task not yet freed when the process exits (the store would stay unclosed).
            tasks.addTask { [signals, weak group] in
                for await _ in signals { await group?.triggerGracefulShutdown() }
            }
            try await group.run()
            tasks.cancelAll()
        }
    }
}
