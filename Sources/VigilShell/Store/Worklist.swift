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

extension EventStore {
    /// The open tasks matching `filter`, overdue first, then by due time.
    public func worklist(_ filter: WorklistFilter, at now: Timestamp) throws(StoreError) -> [WorklistEntry] {
        var condition = "state IN \(TaskState.openList)"
        var arguments: StatementArguments = []
        if let route = filter.route {
            condition += " AND route = ?"
            _ = arguments.append(contentsOf: [route])
        }
        if let dueBefore = filter.dueBefore {
            condition += " AND due < ?"
            _ = arguments.append(contentsOf: [dueBefore.microseconds])
        }
        if let client = filter.client {
            condition += " AND client = ?"
            _ = arguments.append(contentsOf: [client])
        }
        condition += " ORDER BY due < ? DESC, due, seq LIMIT ?"
        _ = arguments.append(contentsOf: [now.microseconds, max(1, filter.limit)])
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT \(WorklistEntry.columns) FROM tasks WHERE \(condition)", arguments: arguments
                ).map { WorklistEntry(row: $0, now: now) }
            }
        } catch {
            throw StoreError(path: path, problem: "cannot read: \(error)")
        }
    }

    /// The task `id`, if there is one (for the API's actions: which client it is of, and its state).
    public func task(_ id: String) throws(StoreError) -> TaskRecord? {
        do {
            return try queue.read { db in try TaskRecord.fetchAll(db, where: "id = ?", arguments: [id]).first }
        } catch {
            throw StoreError(path: path, problem: "cannot read: \(error)")
        }
    }

    /// Whether an event with this id is stored (a link already used, a retried request).
    public func hasEvent(_ id: String) throws(StoreError) -> Bool {
        do {
            return try queue.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM events WHERE id = ?)", arguments: [id]) ?? false
            }
        } catch {
            throw StoreError(path: path, problem: "cannot read: \(error)")
        }
    }
}
