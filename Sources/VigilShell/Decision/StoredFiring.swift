import GRDB
import VigilCore

/// A firing read back from the store: a rule an event fired (from `evaluations`, with the rule's
/// values from `ruleset_rules`) or an absence (from `absences`).
public struct StoredFiring: Sendable {
    public var firing: Firing
    public var summary: String
    /// False for an `absent:` rule's firing, which no event carries (`firing.event` is then empty).
    public var fromEvent: Bool

    /// The client's firings observed after `since` (µs), from events stored before `seq` (all when
    /// nil) and from absences, in observation order, each in its domain's place in `policy` (the
    /// first domain when `policy` has no domain of that name).
    static func fetch(
        client: String, before seq: Int64?, since: Int64, policy: ScoringPolicy, db: Database
    ) throws -> [StoredFiring] {
        var rules: [Int64: [String: Row]] = [:]
        func rule(_ id: String, of ruleset: Int64) throws -> Row? {
            if rules[ruleset] == nil {
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT rule, summary, weight, half_life, floor, domain, acute_for FROM ruleset_rules
                        WHERE ruleset = ?
                        """,
                    arguments: [ruleset])
                rules[ruleset] = Dictionary(rows.map { ($0["rule"], $0) }) { first, _ in first }
            }
            return rules[ruleset]?[id]
        }
        func firing(_ id: String, event: String, at: Int64, ruleset: Int64, fromEvent: Bool) throws -> StoredFiring? {
            guard let row = try rule(id, of: ruleset) else { return nil }
            return StoredFiring(
                firing: Firing(
                    rule: id, event: event, at: Timestamp(microseconds: at), weight: row["weight"],
                    halfLife: TimeSpan(microseconds: row["half_life"]),
                    floor: (row["floor"] as String?).flatMap(Tier.init(rawValue:)),
                    domain: (row["domain"] as String?).flatMap(policy.index(of:)) ?? 0,
                    acuteFor: TimeSpan(microseconds: row["acute_for"])),
                summary: row["summary"], fromEvent: fromEvent)
        }
        var found: [StoredFiring] = []
        let evaluated = try Row.fetchAll(
            db,
            sql: """
                SELECT e.id, e.at, v.fired, v.ruleset FROM events e JOIN evaluations v ON v.event_seq = e.seq
                WHERE e.client = ? AND e.at > ? AND e.seq < ? AND v.fired != '' ORDER BY e.seq
                """,
            arguments: [client, since, seq ?? Int64.max])
        for row in evaluated {
            let fired: String = row["fired"]
            for id in fired.split(separator: " ") {
                if let stored = try firing(
                    String(id), event: row["id"], at: row["at"], ruleset: row["ruleset"], fromEvent: true)
                {
                    found.append(stored)
                }
            }
        }
        let absences = try Row.fetchAll(
            db, sql: "SELECT rule, at, ruleset FROM absences WHERE client = ? AND fired = 1 AND at > ? ORDER BY seq",
            arguments: [client, since])
        for row in absences {
            if let stored = try firing(row["rule"], event: "", at: row["at"], ruleset: row["ruleset"], fromEvent: false)
            {
                found.append(stored)
            }
        }
        return found.sorted { $0.firing.at < $1.firing.at }
    }
}
