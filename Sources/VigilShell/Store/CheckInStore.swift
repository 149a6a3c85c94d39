import VigilCore

/// The store as `vigil serve` writes it: check-ins committed with their decisions, and the clock's
/// ticks. The SQLite `EventStore` and VigilPostgres' `PostgresEventStore` run the same commit
/// (`StoreCommit`) and stages through their own `StoreSession`.
public protocol CheckInStore: Sendable {
    /// Commits a batch in one durable transaction (see `EventStore.commit`); one outcome per event.
    func commit(_ events: [PendingEvent], rejections: [PendingRejection], at time: Timestamp)
        throws(StoreError) -> [CommitOutcome]

    /// Decides the silences due by `now` (see `DecisionStage.tick`), in one durable transaction.
    func tick(at now: Timestamp) throws(StoreError) -> AbsenceRound

    /// Marks every client for an absence check when the pack in force changed.
    func awaitAbsencesIfThePackChanged() throws(StoreError)
}

extension EventStore: CheckInStore {}
