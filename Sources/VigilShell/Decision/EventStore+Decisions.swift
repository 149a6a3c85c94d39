import VigilCore

extension EventStore {
    /// The decision stage among the store's commit stages, if any.
    var decisions: DecisionStage? { stages.lazy.compactMap { $0 as? DecisionStage }.first }

    /// A clock tick: decides the silences of `absent:` rules due by `now` (see `DecisionStage.tick`),
    /// in one durable transaction. Returns what was decided, fired or not.
    public func tick(at now: Timestamp) throws(StoreError) -> AbsenceRound {
        guard let decisions else { return AbsenceRound(decisions: [], clients: 0) }
        return try write { db in try decisions.tick(at: now, session: SQLiteSession(db)) }
    }

    /// Marks every client for an absence check when the pack in force changed (see
    /// `DecisionStage.awaitAbsencesIfThePackChanged`).
    public func awaitAbsencesIfThePackChanged() throws(StoreError) {
        guard let decisions else { return }
        try write { db in try decisions.awaitAbsencesIfThePackChanged(session: SQLiteSession(db)) }
    }
}
