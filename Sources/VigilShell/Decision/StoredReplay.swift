import VigilCore

/// Rebuilds a client's `ClientReplay` from the store: exactly the state a continuous replay of the
/// same events would hold (see `ClientReplay`), whatever the batches and restarts in between.
enum StoredReplay {
    /// The state after every event of `client` stored before `seq` (and every absence decided).
    static func load(client: String, before seq: Int64, pack: RulePack, session: some StoreSession) throws
        -> ClientReplay
    {
        let ruleSet = pack.ruleSet
        // This runs for every client not cached, and finds nothing for a new one.
        let found = try session.fetchOne(
            "SELECT at FROM events WHERE client = ? AND seq < ? ORDER BY at DESC LIMIT 1", client, seq
        ) { $0.int64(0) }
        guard let newest = found else { return ClientReplay(ruleSet: ruleSet, policy: pack.policy) }
        let horizon = newest - ruleSet.lookBack.microseconds
        let bodies = try session.fetchAll(
            "SELECT body FROM events WHERE client = ? AND seq < ? AND at >= ? ORDER BY seq", client, seq, horizon
        ) { $0.text(0) }
        // The plan in force at the horizon, however old (a plan outlives the look-back).
        let plan = try session.fetchOne(
            """
            SELECT body FROM events WHERE client = ? AND kind = 'plan' AND seq < ? AND at < ?
            ORDER BY at DESC, seq DESC LIMIT 1
            """, client, seq, horizon
        ) { $0.text(0) }
        let history = ([plan ?? nil] + bodies).compactMap { $0 }.compactMap(CheckInDecoder.stored.decodeStored)
        // A firing still active at the horizon was observed after it, less the longest active span.
        let since = horizon - (try StoredFiring.longestActiveSpan(session: session))
        let firings = try StoredFiring.fetch(
            client: client, before: seq, since: since, policy: pack.policy, session: session)
        let decided = try session.fetchAll(
            "SELECT rule, at FROM absences WHERE client = ? AND at >= ?", client, horizon
        ) { Silence(rule: $0.text(0) ?? "", at: Timestamp(microseconds: $0.int64(1))) }
        return ClientReplay(
            ruleSet: ruleSet, policy: pack.policy, history: history, firings: firings.map(\.firing),
            decidedSilences: Set(decided))
    }
}
