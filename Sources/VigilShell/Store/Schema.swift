import GRDB

/// The database schema, as ordered migrations. Never edit a shipped migration; add one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 events, clients, rejections") { db in
            // One row per accepted check-in. `body` is the check-in exactly as received (it holds the
            // private `note`, so it is never printed); `digest` is the SHA-256 of those bytes.
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        client TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        source TEXT NOT NULL,
                        digest TEXT NOT NULL,
                        body TEXT NOT NULL,
                        origin TEXT NOT NULL,
                        ingested_at INTEGER NOT NULL
                    );
                    CREATE INDEX events_by_client_time ON events(client, at);
                    CREATE TABLE clients (
                        id TEXT PRIMARY KEY,
                        first_at INTEGER NOT NULL,
                        last_at INTEGER NOT NULL,
                        events INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE rejections (
                        seq INTEGER PRIMARY KEY,
                        origin TEXT NOT NULL,
                        digest TEXT NOT NULL,
                        reasons TEXT NOT NULL,
                        rejected_at INTEGER NOT NULL,
                        UNIQUE(origin, digest)
                    );
                    """)
        }
        return migrator
    }
}
