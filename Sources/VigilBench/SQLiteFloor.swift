import GRDB
import VigilShell

/// The floor of `vigil bench ingest` (b) and (c): the rows Vigil wrote (events, evaluations,
/// clients, episodes, tasks, absences, rule sets) written again into an empty store with the same
/// schema and indexes, by the most direct bulk insert SQLite has (`INSERT … SELECT` from the
/// attached store: prepared once, no per-row work outside SQLite), in WAL with `synchronous=FULL`
/// and transactions of the same number of check-ins as Vigil's. Vigil's cost over this is the
/// decoding, the decisions and its own bookkeeping.
struct SQLiteFloor {
    let source: String
    let target: String
    let eventsPerTransaction: Int

    /// Bulk inserts every row, timed; returns the seconds taken.
    func run() throws -> Double {
        // The same schema and indexes, created by the store's own migrations, untimed.
        _ = try EventStore(path: target, stages: [])
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL")
        }
        let queue = try DatabaseQueue(path: target, configuration: configuration)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "ATTACH DATABASE ? AS source", arguments: [source])
        }
        let (events, tables) = try queue.read { db in
            let names = try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM source.sqlite_master WHERE type = 'table'
                    AND name NOT IN ('events', 'evaluations', 'grdb_migrations') AND name NOT LIKE 'sqlite_%'
                    """)
            return (
                try Int64.fetchOne(db, sql: "SELECT max(seq) FROM source.events") ?? 0,
                try names.map { ($0, try Int.fetchOne(db, sql: "SELECT count(*) FROM source.\($0)") ?? 0) }
            )
        }
        let transactions = max(1, Int((events + Int64(eventsPerTransaction) - 1) / Int64(eventsPerTransaction)))
        let (_, seconds) = try IngestBench.time {
            for slice in 0..<transactions {
                let low = Int64(slice * eventsPerTransaction)
                let high = low + Int64(eventsPerTransaction)
                try queue.inTransaction { db in
                    // The other tables' rows, in as many even slices (in the table's own order), first: the
                    // evaluations refer to the rule sets.
                    for (table, rows) in tables {
                        let share = (rows + transactions - 1) / transactions
                        try db.cachedStatement(
                            sql: "INSERT OR REPLACE INTO main.\(table) SELECT * FROM source.\(table) LIMIT ? OFFSET ?"
                        ).execute(arguments: [share, slice * share])
                    }
                    try db.cachedStatement(
                        sql: "INSERT INTO main.events SELECT * FROM source.events WHERE seq > ? AND seq <= ?"
                    )
                    .execute(arguments: [low, high])
                    try db.cachedStatement(
                        sql:
                            "INSERT INTO main.evaluations SELECT * FROM source.evaluations WHERE event_seq > ? AND event_seq <= ?"
                    ).execute(arguments: [low, high])
                    return .commit
                }
            }
        }
        return seconds
    }
}
