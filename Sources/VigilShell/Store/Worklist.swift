import Foundation
import GRDB
import VigilCore

/// One open task on the team's worklist (`GET /v1/worklist`, the worklist page): codes, ids and
/// the pack's instruction only, never free text.
public struct WorklistEntry: Encodable, Sendable {
    public var task: String
    public var client: String
    public var kind: String
    public var tier: String
    public var route: String
    public var state: String
    public var due: String
    public var overdue: Bool
    public var instruction: String
    @NullWhenAbsent public var takenBy: String?
    @NullWhenAbsent public var takenAt: String?
    public var contactAttempts: Int
    @NullWhenAbsent public var plan: PlanBrief?

    enum CodingKeys: String, CodingKey {
        case task, client, kind, tier, route, state, due, overdue, instruction, plan
        case takenBy = "taken_by"
        case takenAt = "taken_at"
        case contactAttempts = "contact_attempts"
    }

    /// From a row of `worklistColumns` (not a whole `TaskRecord`: the worklist needs neither the
    /// reasons nor the delivery state, and decoding them is most of the cost).
    init(row: Row, now: Timestamp) {
        func time(_ column: String) -> Timestamp? { (row[column] as Int64?).map(Timestamp.init(microseconds:)) }
        task = row["id"]
        client = row["client"]
        kind = row["kind"]
        tier = row["tier"]
        route = row["route"]
        state = row["state"]
        let due = time("due") ?? now
        self.due = due.description
        overdue = due < now
        instruction = row["instruction"]
        takenBy = row["taken_by"]
        takenAt = time("taken_at")?.description
        contactAttempts = row["contact_attempts"]
        plan = (row["plan"] as String?).flatMap {
            try? JSONOutput.decoder.decode(PlanBrief.self, from: Data($0.utf8))
        }
    }

    static let columns =
        "id, client, kind, tier, route, state, due, instruction, taken_by, taken_at, contact_attempts, plan"
}

/// What the worklist shows: open tasks, optionally of one route and due before a time.
public struct WorklistFilter: Sendable {
    public var route: String?
    public var dueBefore: Timestamp?
    public var client: String?
    public var limit = 500

    public init(route: String? = nil, dueBefore: Timestamp? = nil, client: String? = nil, limit: Int = 500) {
        self.route = route
        self.dueBefore = dueBefore
        self.client = client
        self.limit = limit
    }
}

extension WorklistEntry {
    /// The open tasks matching `filter` (see `StoreViews.worklist`), read through `session`.
    package static func read(_ filter: WorklistFilter, at now: Timestamp, session: some StoreSession) throws
        -> [WorklistEntry]
    {
        var condition = "state IN \(TaskState.openList)"
        var values: [(any SQLBindable)?] = []
        if let route = filter.route {
            condition += " AND route = ?"
            values.append(route)
        }
        if let dueBefore = filter.dueBefore {
            condition += " AND due < ?"
            values.append(dueBefore.microseconds)
        }
        if let client = filter.client {
            condition += " AND client = ?"
            values.append(client)
        }
        condition += " ORDER BY due < ? DESC, due, seq LIMIT ?"
        values += [now.microseconds, max(1, filter.limit)]
        return try session.rows("SELECT \(columns) FROM tasks WHERE \(condition)", values).map {
            WorklistEntry(row: $0, now: now)
        }
    }
}
