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
    /// A failure (a store outage; on PostgreSQL, a deadlock with another node's commit) is tried
    /// again before each absence round until it succeeds: the silent clients are those the new
    /// rules are for.
    func awaitAbsencesIfThePackChanged() {
        do {
            try ingestor.store.awaitAbsencesIfThePackChanged()
            absencesToMark = false
        } catch {
            if !absencesToMark {
                logger.log(
                    .error, .storeUnavailable, "cannot mark clients for the new absence rules; trying again",
                    ["error": "\(error)"])
            }
            absencesToMark = true
        }
    }

    /// Decides the silences that are due, 1,000 clients per transaction . A store failure is part of the store's outage: logged once, retried next tick.
    func decideAbsences() {
        if absencesToMark { awaitAbsencesIfThePackChanged() }
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
