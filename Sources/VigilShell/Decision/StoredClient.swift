import GRDB
import VigilCore

/// Reads a client's `ClientState` from the store: the part the daemon caches between transactions
/// (rule state and episode) and the part loaded afresh for each (its open tasks).
enum StoredClient {
    /// The state after every event of `client` stored before `seq`, open tasks not yet loaded.
    static func load(client: String, before seq: Int64, pack: RulePack, db: Database) throws -> ClientState {
        ClientState(
            client: client, replay: try StoredReplay.load(client: client, before: seq, pack: pack, db: db),
            cursor: try cursor(client: client, db: db))
    }

    /// The client's episode state as stored: its latest episode, open or not, and the tasks the
    /// open one has planned.
    static func cursor(client: String, db: Database) throws -> EpisodeCursor {
        guard
            let row = try Row.fetchOne(
                db,
                sql:
                    "SELECT number, tier, opened_at, closed_at FROM episodes WHERE client = ? ORDER BY number DESC LIMIT 1",
                arguments: [client])
        else { return EpisodeCursor() }
        let number: Int = row["number"]
        guard row["closed_at"] as Int64? == nil, let tier = Tier(rawValue: row["tier"]) else {
            return EpisodeCursor(open: nil, lastNumber: number)
        }
        let planned = try String.fetchAll(
            db, sql: "SELECT id FROM tasks WHERE client = ? AND episode = ?", arguments: [client, number])
        return EpisodeCursor(
            open: Episode(number: number, tier: tier, openedAt: Timestamp(microseconds: row["opened_at"])),
            lastNumber: number, planned: Set(planned))
    }

    /// The client's open tasks, oldest first, as they are now (people and the notifier change them).
    static func openTasks(client: String, db: Database) throws -> [OpenTask] {
        let statement = try db.cachedStatement(
            sql: """
                SELECT id, kind, slot, created_at, due FROM tasks
                WHERE client = ? AND state IN \(TaskState.openList) ORDER BY seq
                """)
        return try Row.fetchAll(statement, arguments: [client]).compactMap { row in
            guard let kind = TaskKind(rawValue: row["kind"]) else { return nil }
            return OpenTask(
                id: row["id"], kind: kind, key: PlanKey.parse(slot: row["slot"])?.key,
                createdAt: Timestamp(microseconds: row["created_at"]), due: Timestamp(microseconds: row["due"]))
        }
    }
}
