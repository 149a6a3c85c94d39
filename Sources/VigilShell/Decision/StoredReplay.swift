import GRDB
import VigilCore

/// Rebuilds a client's `ClientReplay` from the store: exactly the state a continuous replay of the
/// same events would hold (see `ClientReplay`), whatever the batches and restarts in between.
enum StoredReplay {
    /// The state after every event of `client` stored before `seq` (and every absence decided).
    static func load(client: String, before seq: Int64, pack: RulePack, db: Database) throws -> ClientReplay {
        let ruleSet = pack.ruleSet
        // Raw: this runs for every client not cached, and finds nothing for a new one.
        var latest = RawStatement(
            try db.cachedStatement(sql: "SELECT at FROM events WHERE client = ? AND seq < ? ORDER BY at DESC LIMIT 1"))
        latest.bind(client)
        latest.bind(seq)
        var found: Int64?
        try latest.forEachRow(db: db) { row in found = row.int64(0) }
        guard let newest = found else { return ClientReplay(ruleSet: ruleSet, policy: pack.policy) }
        let horizon = newest - ruleSet.lookBack.microseconds
        let bodies = try String.fetchAll(
            db, sql: "SELECT body FROM events WHERE client = ? AND seq < ? AND at >= ? ORDER BY seq",
            arguments: [client, seq, horizon])
        // The plan in force at the horizon, however old (a plan outlives the look-back).
        let plan = try String.fetchOne(
            db,
            sql: """
                SELECT body FROM events WHERE client = ? AND kind = 'plan' AND seq < ? AND at < ?
                ORDER BY at DESC, seq DESC LIMIT 1
                """,
            arguments: [client, seq, horizon])
        let history = ([plan].compactMap { $0 } + bodies).compactMap(CheckInDecoder.stored.decodeStored)
        // A firing still active at the horizon was observed after it, less the longest active span.
        let since = horizon - (try StoredFiring.longestActiveSpan(db: db))
        let firings = try StoredFiring.fetch(client: client, before: seq, since: since, policy: pack.policy, db: db)
        let decided = try Row.fetchAll(
            db, sql: "SELECT rule, at FROM absences WHERE client = ? AND at >= ?", arguments: [client, horizon]
        ).map { Silence(rule: $0["rule"], at: Timestamp(microseconds: $0["at"])) }
        return ClientReplay(
            ruleSet: ruleSet, policy: pack.policy, history: history, firings: firings.map(\.firing),
            decidedSilences: Set(decided))
    }
}
