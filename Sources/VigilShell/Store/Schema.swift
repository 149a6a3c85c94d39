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
        migrator.registerMigration("v2 rule sets, evaluations, absences, client scores") { db in
            // `rulesets`: each rule pack that evaluated something, by the hash of its files (audit),
            // with its longest half-life (which bounds how far back a firing can still count) and its tier
            // thresholds.
            // `ruleset_rules`: each rule of each rule set as it was (summary, weight, half-life, floor).
            // `evaluations`: after each stored event, the rules it fired (ids separated by spaces) and
            // the client's score and tier; a firing is (event, rule) with the rule's values above.
            // `absences`: each silence of an `absent:` rule decided by the timer, fired or not (when the
            // client's tier was below the rule's `tier_at_least`); no event carries these firings.
            // `clients.absence_due`: the client's next undecided deadline, which the timer looks for.
            // `settings`: the daemon's own state, such as the hash of the rule pack last in force.
            try db.execute(
                sql: """
                    CREATE TABLE rulesets (
                        id INTEGER PRIMARY KEY,
                        hash TEXT NOT NULL UNIQUE,
                        first_used_at INTEGER NOT NULL,
                        longest_half_life INTEGER NOT NULL,
                        moderate REAL NOT NULL,
                        high REAL NOT NULL,
                        imminent REAL NOT NULL
                    );
                    CREATE TABLE ruleset_rules (
                        ruleset INTEGER NOT NULL REFERENCES rulesets(id),
                        rule TEXT NOT NULL,
                        summary TEXT NOT NULL,
                        weight REAL NOT NULL,
                        half_life INTEGER NOT NULL,
                        floor TEXT,
                        evidence TEXT NOT NULL,
                        PRIMARY KEY (ruleset, rule)
                    ) WITHOUT ROWID;
                    CREATE TABLE evaluations (
                        event_seq INTEGER PRIMARY KEY REFERENCES events(seq),
                        fired TEXT NOT NULL,
                        score REAL NOT NULL,
                        tier TEXT NOT NULL,
                        ruleset INTEGER NOT NULL REFERENCES rulesets(id)
                    );
                    CREATE TABLE absences (
                        seq INTEGER PRIMARY KEY,
                        client TEXT NOT NULL,
                        rule TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        fired INTEGER NOT NULL,
                        score REAL NOT NULL,
                        tier TEXT NOT NULL,
                        ruleset INTEGER NOT NULL REFERENCES rulesets(id),
                        decided_at INTEGER NOT NULL,
                        UNIQUE (client, rule, at)
                    );
                    ALTER TABLE clients ADD COLUMN score REAL;
                    ALTER TABLE clients ADD COLUMN tier TEXT;
                    ALTER TABLE clients ADD COLUMN scored_at INTEGER;
                    ALTER TABLE clients ADD COLUMN absence_due INTEGER;
                    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                    CREATE INDEX clients_by_absence_due ON clients(absence_due) WHERE absence_due IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v3 episodes and the task queue") { db in
            // `episodes`: each client's runs of elevated risk (see `Episode`); open while `closed_at`
            // is null. `tier` is the highest tier planned for.
            // `tasks`: the durable queue. `id` is derived from (client, episode, slot), so the same
            // task is never enqueued twice. `deliver_at`: when the notifier hands it to a channel;
            // `due`: when the action is due. `next_attempt_at`: when it may next be claimed (the
            // lease's end while `claimed`, the retry time after a failure). `about`: for an `overdue`
            // or fallback task, the task it is about. `notice_pending`: a resolved or cancelled task
            // whose channel should hear that it ended (Alertmanager's endsAt). `renew_at`: when a
            // delivered Alertmanager alert is next re-sent so that it stays active.
            try db.execute(
                sql: """
                    CREATE TABLE episodes (
                        client TEXT NOT NULL,
                        number INTEGER NOT NULL,
                        tier TEXT NOT NULL,
                        opened_at INTEGER NOT NULL,
                        closed_at INTEGER,
                        PRIMARY KEY (client, number)
                    ) WITHOUT ROWID;
                    CREATE TABLE tasks (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        client TEXT NOT NULL,
                        episode INTEGER NOT NULL,
                        slot TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        tier TEXT NOT NULL,
                        score REAL NOT NULL,
                        route TEXT NOT NULL,
                        instruction TEXT NOT NULL,
                        reasons TEXT NOT NULL,
                        about TEXT,
                        created_at INTEGER NOT NULL,
                        deliver_at INTEGER NOT NULL,
                        due INTEGER NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at INTEGER NOT NULL,
                        first_attempt_at INTEGER,
                        lease_token TEXT,
                        channel TEXT,
                        delivered_at INTEGER,
                        last_error TEXT,
                        contact_attempts INTEGER NOT NULL DEFAULT 0,
                        resolved_at INTEGER,
                        resolved_by TEXT,
                        cancel_reason TEXT,
                        dead_at INTEGER,
                        overdue_raised INTEGER NOT NULL DEFAULT 0,
                        notice_pending INTEGER NOT NULL DEFAULT 0,
                        renew_at INTEGER,
                        UNIQUE (client, episode, slot)
                    );
                    CREATE INDEX tasks_claimable ON tasks(next_attempt_at) WHERE state IN ('pending', 'claimed');
                    CREATE INDEX tasks_by_client ON tasks(client, due);
                    CREATE INDEX tasks_open_outreach ON tasks(due)
                        WHERE kind IN ('caring_contact', 'follow_up', 'peer_checkin')
                        AND state IN ('pending', 'claimed', 'delivered', 'dead') AND overdue_raised = 0;
                    CREATE INDEX tasks_notices ON tasks(notice_pending) WHERE notice_pending = 1;
                    CREATE INDEX tasks_renewals ON tasks(renew_at) WHERE renew_at IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v4 an index for dead outreach tasks") { db in
            // The notifier looks for dead outreach tasks to escalate every second; without this
            // index that was a scan of the whole queue.
            try db.execute(
                sql: """
                    CREATE INDEX tasks_dead_outreach ON tasks(due)
                        WHERE state = 'dead' AND overdue_raised = 0
                        AND kind IN ('caring_contact', 'follow_up', 'peer_checkin');
                    """)
        }
        migrator.registerMigration("v5 an event is identified by its client and its id") { db in
            // A check-in's id is unique within its client only: another client's check-in (a writer
            // squatting an id) can no longer make a genuine crisis check-in a refused duplicate.
            // SQLite cannot drop a column's UNIQUE, so the table is rebuilt (its rows, seq included).
            try db.execute(
                sql: """
                    CREATE TABLE events_v5 (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL,
                        client TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        source TEXT NOT NULL,
                        digest TEXT NOT NULL,
                        body TEXT NOT NULL,
                        origin TEXT NOT NULL,
                        ingested_at INTEGER NOT NULL,
                        UNIQUE (client, id)
                    );
                    INSERT INTO events_v5 SELECT seq, id, client, at, kind, source, digest, body, origin, ingested_at
                        FROM events;
                    DROP TABLE events;
                    ALTER TABLE events_v5 RENAME TO events;
                    CREATE INDEX events_by_client_time ON events(client, at);
                    """)
        }
        migrator.registerMigration("v6 an index for claiming escalations first") { db in
            // The notifier claims due escalations before other tasks, so that a receiver's backlog
            // of outreach (caring contacts, follow-ups) never hides one.
            try db.execute(
                sql: """
                    CREATE INDEX tasks_claimable_escalations ON tasks(next_attempt_at)
                        WHERE state IN ('pending', 'claimed') AND kind IN ('escalation', 'overdue');
                    """)
        }
        migrator.registerMigration("v7 risk domains, acute markers, held tiers, repeats and replaced results") { db in
            // `rulesets.policy`: the scoring policy (domains, caps, thresholds, the acute requirement,
            // the hold) as JSON, so `client show` reads a client as the pack that scored it did.
            // `rulesets.longest_active`: the longest span any of its rules' firings counts (µs).
            // `ruleset_rules.domain`, `acute_for`, `active_for`: each rule's domain, how long its firing
            // is an acute marker (µs; 0: never) and how long it counts (µs; null: four half-lives).
            // `evaluations.ended`: the firings that event ended (`RULE=EVENT`, space-separated; null:
            // none): a repeat within its window, or a rule's result replaced by a later screening.
            // `episodes.held_until`: until when the episode's tier holds (the hold after the latest
            // rise, or a new screening result's time); `episodes.domains`: the tier planned for in each domain
            // (`suicide=high overdose=moderate`). Rows from before are read as one domain, never acute.
            try db.execute(
                sql: """
                    ALTER TABLE rulesets ADD COLUMN policy TEXT;
                    ALTER TABLE rulesets ADD COLUMN longest_active INTEGER;
                    ALTER TABLE ruleset_rules ADD COLUMN domain TEXT;
                    ALTER TABLE ruleset_rules ADD COLUMN acute_for INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE ruleset_rules ADD COLUMN active_for INTEGER;
                    ALTER TABLE evaluations ADD COLUMN ended TEXT;
                    ALTER TABLE episodes ADD COLUMN held_until INTEGER;
                    ALTER TABLE episodes ADD COLUMN domains TEXT;
                    """)
        }
        migrator.registerMigration("v8 recovery plans and caring-contact programs") { db in
            // `events_plans`: a client's newest recovery plan (`kind: plan`) is read whenever its
            // state is rebuilt, however old (a plan outlives the rules' look-back).
            // `programs`: each client's caring-contact programs (one running at a time): when it
            // started, the crisis (and episode, 0 for a check-in's kind) that last extended it, how many messages it planned and when the last
            // is delivered, and when and why it stopped (its messages are tasks, slot `caring.N.K`).
            // `tasks.plan`: what the task carries of the client's recovery plan (`PlanBrief` as JSON;
            // null: the client had none). `episodes.watch_until`: until when an episode that closed at
            // high or above keeps the client on the step-down watch (null: none).
            try db.execute(
                sql: """
                    CREATE INDEX events_plans ON events(client, at) WHERE kind = 'plan';
                    CREATE TABLE programs (
                        client TEXT NOT NULL,
                        number INTEGER NOT NULL,
                        started_at INTEGER NOT NULL,
                        extended_at INTEGER NOT NULL,
                        episode INTEGER NOT NULL,
                        contacts INTEGER NOT NULL,
                        last_delivery INTEGER NOT NULL,
                        stopped_at INTEGER,
                        stop_reason TEXT,
                        PRIMARY KEY (client, number)
                    );
                    ALTER TABLE tasks ADD COLUMN plan TEXT;
                    ALTER TABLE episodes ADD COLUMN watch_until INTEGER;
                    """)
        }
        migrator.registerMigration("v9 who took and who resolved a task") { db in
            // `tasks.taken_by`, `taken_at`: who said "I'm on it" (a `take` check-in), and when.
            // `tasks.acted_by`: who resolved it, when a person did (an `ack`, or a contact's `by`).
            // Each comes from an event, which stays the audit trail.
            try db.execute(
                sql: """
                    ALTER TABLE tasks ADD COLUMN taken_by TEXT;
                    ALTER TABLE tasks ADD COLUMN taken_at INTEGER;
                    ALTER TABLE tasks ADD COLUMN acted_by TEXT;
                    """)
        }
        migrator.registerMigration("v10 an index of the open tasks by client") { db in
            // Every commit reads its clients' open tasks (`StoredClient.openTasks`). Through
            // `tasks_by_client` that read also visited every task each client ever had, cancelled
            // and resolved ones included, so it grew with the client's history; this index holds
            // the open ones only. Its list is `TaskState.openList` as of v10: a query must name
            // the same list for SQLite to use it (`QueryPlanTests` checks that it does).
            try db.execute(
                sql: """
                    CREATE INDEX tasks_open_by_client ON tasks(client)
                        WHERE state IN ('pending', 'claimed', 'delivered');
                    """)
        }
        return migrator
    }
}
