import Logging
import ServiceLifecycle
import VigilCore

/// Decides the silences of `absent:` rules every 30 s (the ingest service also asks after each
/// drain, and a reload after a new pack). Every daemon call into the rule evaluation's absence
/// decisions is in this file.
struct AbsenceTicker: Service {
    let core: DaemonCore
    let interval: TimeSpan

    func run() async {
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .microseconds(interval.microseconds)) }
            guard !Task.isShuttingDownGracefully else { return }
            await core.decideAbsences()
        }
    }
}

extension DaemonCore {
    /// Marks every client for an absence check when the pack in force changed and has `absent:` rules.
    func awaitAbsencesIfThePackChanged() {
        do {
            try evaluation.awaitAbsencesIfThePackChanged(store: ingestor.store)
        } catch {
            logger.log(
                .error, .storeUnavailable, "cannot mark clients for the new absence rules", ["error": "\(error)"])
        }
    }

    /// Decides the silences that are due, 1,000 clients per transaction (the evaluation stage logs
    /// each firing). A store failure is part of the store's outage: logged once, retried next tick.
    func decideAbsences() {
        do {
            while true {
                let round = try evaluation.decideAbsences(at: clock.now(), store: ingestor.store)
                pacer.beat()
                // A silence that fired may have raised a tier and enqueued tasks due now.
                if round.decisions.contains(where: { $0.decision.fired }) { committedDueTask() }
                if round.clients < AbsenceRound.clientsPerRound { break }
            }
        } catch {
            if storeOutage.fail("\(error)") {
                logger.log(
                    .critical, .storeUnavailable, "cannot record absence rule decisions; retrying",
                    ["error": "\(error)", "transient": "\(error.isTransient)"])
            }
        }
    }
}
