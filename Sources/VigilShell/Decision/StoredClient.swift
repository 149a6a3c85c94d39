import VigilCore

/// Reads a client's `ClientState` from the store: the part the daemon caches between transactions
/// (rule state and episode) and the part loaded afresh for each (its open tasks).
enum StoredClient {
    /// The state after every event of `client` stored before `seq`, open tasks not yet loaded.
    static func load(client: String, before seq: Int64, pack: RulePack, session: some StoreSession) throws
        -> ClientState
    {
        let replay = try StoredReplay.load(client: client, before: seq, pack: pack, session: session)
        // A client never seen before has no episode and no program: nothing more to read.
        guard replay.history.newest != nil else { return new(client, pack: pack) }
        var cursor = try cursor(client: client, policy: pack.policy, session: session)
        if pack.plans.aftercare.watch != nil { cursor.watchUntil = try watchUntil(client: client, session: session) }
        return ClientState(
            client: client, replay: replay, cursor: cursor, program: try program(client: client, session: session))
    }

    /// The state of a client with no stored event.
    static func new(_ client: String, pack: RulePack) -> ClientState {
        ClientState(client: client, replay: ClientReplay(ruleSet: pack.ruleSet, policy: pack.policy))
    }

    /// Of `clients`, each with the sequence number of its first event in this transaction, those
    /// with an event stored before it (the others are new), in one statement on PostgreSQL.
    static func withEarlierEvents(_ clients: [(client: String, seq: Int64)], session: some StoreSession) throws
        -> Set<String>
    {
        var known: Set<String> = []
        try session.runMany(
            """
            SELECT u.column1 FROM (VALUES (CAST(? AS TEXT), CAST(? AS BIGINT))) AS u
            WHERE EXISTS (SELECT 1 FROM events e WHERE e.client = u.column1 AND e.seq < u.column2)
            """,
            oneRow: "SELECT ?1 WHERE EXISTS (SELECT 1 FROM events WHERE client = ?1 AND seq < ?2)",
            rows: clients.map { [$0.client, $0.seq] as [(any SQLBindable)?] }
        ) { row in
            if let client = row.text(0) { known.insert(client) }
        }
        return known
    }

    /// Until when the client is on the step-down watch its episodes that closed at `high` or above
    /// started (nil: none).
    static func watchUntil(client: String, session: some StoreSession) throws -> Timestamp? {
        try session.fetchOne("SELECT MAX(watch_until) FROM episodes WHERE client = ?", client) { row in
            row.isNull(0) ? nil : Timestamp(microseconds: row.int64(0))
        } ?? nil
    }

    /// The client's latest caring-contact program, as stored.
    static func program(client: String, session: some StoreSession) throws -> CaringProgram? {
        try session.fetchOne(
            """
            SELECT number, started_at, extended_at, episode, contacts, last_delivery, stopped_at, stop_reason
            FROM programs WHERE client = ? ORDER BY number DESC LIMIT 1
            """, client
        ) { row in
            CaringProgram(
                number: Int(row.int64(0)), startedAt: Timestamp(microseconds: row.int64(1)),
                anchoredAt: Timestamp(microseconds: row.int64(2)), episode: Int(row.int64(3)),
                contacts: Int(row.int64(4)), lastDelivery: Timestamp(microseconds: row.int64(5)),
                stoppedAt: row.isNull(6) ? nil : Timestamp(microseconds: row.int64(6)), stopReason: row.text(7))
        }
    }

    /// The client's episode state as stored: its latest episode, open or not, and the tasks the
    /// open one has planned. It runs for every client not cached. An episode stored before
    /// domains were is read as planned for its tier in every domain of `policy`.
    static func cursor(client: String, policy: ScoringPolicy, session: some StoreSession) throws -> EpisodeCursor {
        let latest = try session.fetchOne(
            """
            SELECT number, tier, opened_at, closed_at, held_until, domains FROM episodes
            WHERE client = ? ORDER BY number DESC LIMIT 1
            """, client
        ) { row in
            (
                number: row.int64(0), tier: row.text(1), openedAt: row.int64(2), closed: !row.isNull(3),
                heldUntil: row.isNull(4) ? nil : row.int64(4), domains: row.text(5)
            )
        }
        guard let found = latest else { return EpisodeCursor() }
        let number = Int(found.number)
        guard !found.closed, let tier = found.tier.flatMap(Tier.init(rawValue:)) else {
            return EpisodeCursor(open: nil, lastNumber: number)
        }
        // A program's messages are not in the planned set (see `Evaluator.plan`).
        let planned = try session.fetchAll(
            "SELECT id FROM tasks WHERE client = ? AND episode = ? AND slot NOT LIKE '\(CaringProgram.slotPrefix)%'",
            client, found.number
        ) { $0.text(0) }
        let domains =
            found.domains.map(Episode.domains(from:))
            ?? Dictionary(policy.domains.map { ($0.name, min(tier, $0.cap)) }) { first, _ in first }
        let episode = Episode(
            number: number, tier: tier, openedAt: Timestamp(microseconds: found.openedAt),
            heldUntil: found.heldUntil.map(Timestamp.init(microseconds:)), domains: domains)
        return EpisodeCursor(open: episode, lastNumber: number, planned: Set(planned.compactMap { $0 }))
    }

    /// Each client's open tasks, oldest first, as they are now (people and the notifier change
    /// them). It runs for every commit, for all its clients at once, in one statement.
    static func openTasks<Session: StoreSession>(clients: [String], slots: inout SlotKeys, session: Session) throws
        -> [String: [OpenTask]]
    {
        var tasks: [String: [OpenTask]] = [:]
        guard !clients.isEmpty else { return tasks }
        var statement = try session.statement(openTasksQuery(listing: Session.listedTexts))
        statement.bind(JSONOutput.text(clients))
        try statement.forEachRow { row in
            guard let client = row.text(0), let id = row.text(1),
                let kind = row.text(2).flatMap(TaskKind.init(rawValue:))
            else { return }
            let slot = row.text(3) ?? ""
            tasks[client, default: []].append(
                OpenTask(
                    id: id, kind: kind, key: slots.key(of: slot), createdAt: Timestamp(microseconds: row.int64(4)),
                    due: Timestamp(microseconds: row.int64(5)), slot: slot,
                    deliverAt: Timestamp(microseconds: row.int64(6)), attempts: Int(row.int64(7))))
        }
        return tasks
    }
}

extension StoredClient {
    /// The read of `openTasks`, its clients listed by `listing` (`StoreSession.listedTexts`): the
    /// state list is the one the index of open tasks by client (`tasks_open_by_client`) names.
    static func openTasksQuery(listing: String) -> String {
        """
        SELECT client, id, kind, slot, created_at, due, deliver_at, contact_attempts FROM tasks
        WHERE client IN (\(listing)) AND state IN \(TaskState.openList) ORDER BY seq
        """
    }
}

/// Plan keys by task slot, each parsed once per transaction: every client's open tasks come from
/// the same few slots.
struct SlotKeys {
    private var parsed: [String: PlanKey?] = [:]

    mutating func key(of slot: String) -> PlanKey? {
        if let known = parsed[slot] { return known }
        let key = PlanKey.parse(slot: slot)?.key
        parsed[slot] = key
        return key
    }
}
