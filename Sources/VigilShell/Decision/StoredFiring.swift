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
        client: String, before seq: Int64?, since: Int64, policy: ScoringPolicy, session: some StoreSession
    ) throws -> [StoredFiring] {
        var rules: [Int64: [String: StoredRule]] = [:]
        func rule(_ id: String, of ruleset: Int64) throws -> StoredRule? {
            if rules[ruleset] == nil {
                let found = try session.fetchAll(
                    """
                    SELECT rule, summary, weight, half_life, floor, domain, acute_for, active_for
                    FROM ruleset_rules WHERE ruleset = ?
                    """, ruleset
                ) { row in
                    (
                        row.text(0) ?? "",
                        StoredRule(
                            summary: row.text(1) ?? "", weight: row.double(2), halfLife: row.int64(3),
                            floor: row.text(4), domain: row.text(5), acuteFor: row.int64(6),
                            activeFor: row.isNull(7) ? nil : row.int64(7))
                    )
                }
                rules[ruleset] = Dictionary(found) { first, _ in first }
            }
            return rules[ruleset]?[id]
        }
        func firing(_ id: String, event: String, at: Int64, ruleset: Int64, fromEvent: Bool) throws -> StoredFiring? {
            guard let rule = try rule(id, of: ruleset) else { return nil }
            return StoredFiring(
                firing: Firing(
                    rule: id, event: event, at: Timestamp(microseconds: at), weight: rule.weight,
                    halfLife: TimeSpan(microseconds: rule.halfLife), floor: rule.floor.flatMap(Tier.init(rawValue:)),
                    domain: rule.domain.flatMap(policy.index(of:)) ?? 0,
                    acuteFor: TimeSpan(microseconds: rule.acuteFor),
                    activeFor: rule.activeFor.map(TimeSpan.init(microseconds:))),
                summary: rule.summary, fromEvent: fromEvent)
        }
        var found: [StoredFiring] = []
        let evaluated = try session.fetchAll(
            """
            SELECT e.id, e.at, v.fired, v.ruleset, v.ended FROM events e JOIN evaluations v ON v.event_seq = e.seq
            WHERE e.client = ? AND e.at > ? AND e.seq < ? AND (v.fired != '' OR v.ended IS NOT NULL)
            ORDER BY e.seq
            """, client, since, seq ?? Int64.max
        ) { row in
            (
                id: row.text(0) ?? "", at: row.int64(1), fired: row.text(2) ?? "", ruleset: row.int64(3),
                ended: row.text(4)
            )
        }
        // Firings a later event (or a repeat) ended no longer count, whatever order they came in.
        var ended: Set<String> = []
        for row in evaluated {
            if let text = row.ended { ended.formUnion(text.split(separator: " ").map(String.init)) }
        }
        for row in evaluated {
            for id in row.fired.split(separator: " ")
            where !ended.contains(Self.endedToken(rule: String(id), event: row.id)) {
                if let stored = try firing(String(id), event: row.id, at: row.at, ruleset: row.ruleset, fromEvent: true)
                {
                    found.append(stored)
                }
            }
        }
        let absences = try session.fetchAll(
            "SELECT rule, at, ruleset FROM absences WHERE client = ? AND fired = 1 AND at > ? ORDER BY seq", client,
            since
        ) { row in (rule: row.text(0) ?? "", at: row.int64(1), ruleset: row.int64(2)) }
        for row in absences {
            if let stored = try firing(row.rule, event: "", at: row.at, ruleset: row.ruleset, fromEvent: false) {
                found.append(stored)
            }
        }
        return found.sorted { $0.firing.at < $1.firing.at }
    }

    /// How `evaluations.ended` names one ended firing: `RULE=EVENT` (a rule id has no `=` or space,
    /// an event id no space).
    static func endedToken(rule: String, event: String) -> String { "\(rule)=\(event)" }

    /// `evaluations.ended` for these firings: their tokens, separated by spaces.
    static func endedText(_ firings: [Firing]) -> String {
        firings.map { endedToken(rule: $0.rule, event: $0.event) }.joined(separator: " ")
    }

    /// How far before `at` a stored firing may have been observed and still count then: the longest
    /// active span of any rule set (four times its longest half-life for one stored before spans were).
    static func longestActiveSpan(session: some StoreSession) throws -> Int64 {
        try session.fetchOne("SELECT max(coalesce(longest_active, 4 * longest_half_life)) FROM rulesets") {
            $0.int64(0)
        } ?? 0
    }
}

/// A rule of a stored rule set, as `StoredFiring` reads it back (times in µs).
private struct StoredRule {
    var summary: String
    var weight: Double
    var halfLife: Int64
    var floor: String?
    var domain: String?
    var acuteFor: Int64
    var activeFor: Int64?
}
