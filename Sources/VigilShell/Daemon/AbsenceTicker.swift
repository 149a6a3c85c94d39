import Logging
import ServiceLifecycle
import VigilCore

/// Decides the silences of `absent:` rules every 30 s (the ingest service also asks after each
/// drain, and a reload after a new pack): each round is a clock tick of the store's decision stage.
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
            try ingestor.store.awaitAbsencesIfThePackChanged()
        } catch {
            logger.log(
                .error, .storeUnavailable, "cannot mark clients for the new absence rules", ["error": "\(error)"])
        }
    }

    /// Decides the silences that are due, 1,000 clients per transaction . A store failure is part of the store's outage: logged once, retried next tick.
    func decideAbsences() {
        do {
            while true {
                // The decision stage logs each firing and wakes the notifier for any task due now.
                let round = try ingestor.store.tick(at: clock.now())
                pacer.beat()
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
