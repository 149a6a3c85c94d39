import Foundation
import GRDB
import VigilCore

/// What `vigil client show` prints: a client's score and tier at an instant, every firing that
/// contributes to it, and the client's recent events. Never the free-text `note`.
///
/// JSON keys are stable (documented in the README): `client`, `as_of`, `score`, `tier`,
/// `held_until`, `acute`, `domains` (each `domain`, `score`, `tier`, `noticed`: the rules of its
/// active firings), `firings` (each `rule`, `summary`, `domain`, `event`, `at`, `weight`,
/// `weight_at_firing`, `half_life_hours`, `floor`),
/// `last_evaluation`, `events` (each `id`, `at`, `kind`, `source`, `fired`, `score`, `tier`,
/// `measures`, `signs`, `stressors`, `protective`), `watch_until` (the step-down watch; null: none),
/// `plan` (the recovery plan in force: `at`, `age_days`, `triggers`, `warning_signs`, `pathway`,
/// `support` (each `role`, `ref`, `channel`, `hours`), `caring_contacts`; never `coping` or
/// `crisis_steps`; null: none), `program` (the latest caring-contact program: `number`, `started`,
/// `next_contact`, `sent`, `remaining`, `stopped_at`, `stop_reason`; null: none).
public struct ClientReport: Encodable, Sendable {
    /// One contributing firing.
    public struct Line: Encodable, Sendable {
        public var rule: String
        public var summary: String
        public var domain: String
        /// The event that fired it; null for an `absent:` rule's firing.
        @NullWhenAbsent public var event: String?
        public var at: String
        /// Its decayed weight at `as_of`.
        public var weight: Double
        public var weightAtFiring: Double
        public var halfLifeHours: Double
        @NullWhenAbsent public var floor: String?
    }

    /// One recent event, without its note.
    public struct Event: Encodable, Sendable {
        public var id: String
        public var at: String
        public var kind: String
        public var source: String
        public var fired: [String]
        @NullWhenAbsent public var score: Double?
        @NullWhenAbsent public var tier: String?
        public var measures: [String: Double]
        public var signs: [String]
        public var stressors: [String]
        public var protective: [String]
    }

    /// One risk domain's share: its score and tier, and the rules whose firings count in it.
    public struct Domain: Encodable, Sendable {
        public var domain: String
        public var score: Double
        public var tier: String
        public var noticed: [String]
    }

    /// The stored evaluation after the client's latest observed event.
    public struct Evaluation: Encodable, Sendable {
        public var at: String
        public var score: Double
        public var tier: String
    }

    public var client: String
    public var asOf: String
    public var score: Double
    public var tier: String
    /// Set while the tier is the one the open episode reached, held above what the score says.
    @NullWhenAbsent public var heldUntil: String?
    /// Whether an acute marker (which the top tier needs) is active.
    public var acute: Bool
    public var domains: [Domain]
    public var firings: [Line]
    @NullWhenAbsent public var lastEvaluation: Evaluation?
    public var events: [Event]
    /// Until when the client is on the step-down watch (its thresholds lowered), if it is at `as_of`.
    @NullWhenAbsent public var watchUntil: String?
    @NullWhenAbsent public var plan: Plan?
    @NullWhenAbsent public var program: Program?

    /// The recovery plan in force, without its private texts.
    public struct Plan: Encodable, Sendable {
        public struct Support: Encodable, Sendable {
            public var role: String
            public var ref: String
            public var channel: String
            @NullWhenAbsent public var hours: String?
        }

        public var at: String
        public var ageDays: Int
        public var triggers: [String]
        public var warningSigns: [String]
        public var pathway: [String]
        public var support: [Support]
        /// `text`, `phone`, `letter`, or `none` (also when consent is not given).
        public var caringContacts: String

        enum CodingKeys: String, CodingKey {
            case at
            case ageDays = "age_days"
            case triggers
            case warningSigns = "warning_signs"
            case pathway, support
            case caringContacts = "caring_contacts"
        }
    }

    /// The client's latest caring-contact program.
    public struct Program: Encodable, Sendable {
        public var number: Int
        public var started: String
        /// When its next message is delivered (null: none left to send).
        @NullWhenAbsent public var nextContact: String?
        /// Messages delivered so far.
        public var sent: Int
        /// Messages still to be delivered.
        public var remaining: Int
        @NullWhenAbsent public var stoppedAt: String?
        @NullWhenAbsent public var stopReason: String?

        enum CodingKeys: String, CodingKey {
            case number, started
            case nextContact = "next_contact"
            case sent, remaining
            case stoppedAt = "stopped_at"
            case stopReason = "stop_reason"
        }
    }

    enum CodingKeys: String, CodingKey {
        case client
        case asOf = "as_of"
        case score, tier
        case heldUntil = "held_until"
        case acute, domains, firings
        case lastEvaluation = "last_evaluation"
        case events
        case watchUntil = "watch_until"
        case plan, program
    }
}

extension ClientReport.Line {
    enum CodingKeys: String, CodingKey {
        case rule, summary, domain, event, at, weight
        case weightAtFiring = "weight_at_firing"
        case halfLifeHours = "half_life_hours"
        case floor
    }

}

extension ClientReport {
    /// The report on `client` at `now` (see `StoreViews.clientReport`), read through `session`:
    /// the same on both stores.
    package static func read(client: String, at now: Timestamp, recent: Int, session: some StoreSession) throws
        -> ClientReport?
    {
        guard
            let row = try session.rows("SELECT score, tier, scored_at FROM clients WHERE id = ?", [client]).first
        else { return nil }
        let policy = try Self.policyInForce(client: client, session: session)
        let since = now.microseconds - (try StoredFiring.longestActiveSpan(session: session))
        let active = try StoredFiring.fetch(
            client: client, before: nil, since: since, policy: policy, session: session
        )
        .filter { $0.firing.at <= now && $0.firing.contribution.isActive(at: now) }
        let cursor = try StoredClient.cursor(client: client, policy: policy, session: session)
        let watchUntil = try StoredClient.watchUntil(client: client, session: session)
        let onWatch = watchUntil.map { now < $0 } ?? false
        let scoring = onWatch ? policy.watchLowering.map { policy.lowered(by: $0) } ?? policy : policy
        let score = policy.held(
            RiskScore(contributions: active.map(\.firing.contribution), at: now, policy: scoring),
            episode: cursor.open, at: now)
        let domains = score.domains.enumerated().map { index, domain in
            ClientReport.Domain(
                domain: domain.name, score: Self.rounded(domain.score), tier: domain.tier.rawValue,
                noticed: Array(Set(active.filter { $0.firing.domain == index }.map(\.firing.rule))).sorted())
        }
        let lines = active.reversed().map { stored in
            let firing = stored.firing
            return ClientReport.Line(
                rule: firing.rule, summary: stored.summary, domain: policy.domains[firing.domain].name,
                event: stored.fromEvent ? firing.event : nil,
                at: "\(firing.at)", weight: Self.rounded(firing.contribution.weight(at: now)),
                weightAtFiring: firing.weight, halfLifeHours: Double(firing.halfLife.microseconds) / 3.6e9,
                floor: firing.floor?.rawValue)
        }
        let evaluation: ClientReport.Evaluation? = (row["scored_at"] as Int64?).map { at in
            ClientReport.Evaluation(
                at: "\(Timestamp(microseconds: at))", score: Self.rounded(row["score"]), tier: row["tier"])
        }
        return ClientReport(
            client: client, asOf: "\(now)", score: Self.rounded(score.score), tier: score.tier.rawValue,
            heldUntil: score.heldUntil.map { "\($0)" }, acute: score.acute, domains: domains, firings: lines,
            lastEvaluation: evaluation,
            events: try Self.recentEvents(client: client, limit: recent, session: session),
            watchUntil: onWatch ? watchUntil.map { "\($0)" } : nil,
            plan: try Self.plan(client: client, at: now, session: session),
            program: try Self.program(client: client, session: session))
    }

    /// The scoring policy of the rule set of the client's latest evaluation (the newest rule set if
    /// none); a rule set stored before policies were has one domain with its thresholds.
    static func policyInForce(client: String, session: some StoreSession) throws -> ScoringPolicy {
        let row = try session.rows(
            """
            SELECT r.moderate, r.high, r.imminent, r.policy FROM rulesets r
            ORDER BY CASE WHEN r.id = (
                SELECT v.ruleset FROM events e JOIN evaluations v ON v.event_seq = e.seq
                WHERE e.client = ? ORDER BY e.seq DESC LIMIT 1
            ) THEN 1 ELSE 0 END DESC, r.id DESC LIMIT 1
            """, [client]
        ).first
        guard let row else { throw StoreError(path: "rulesets", problem: "no rule set has evaluated any event yet") }
        if let text = row["policy"] as String?,
            let policy = try? JSONOutput.decoder.decode(ScoringPolicy.self, from: Data(text.utf8))
        {
            return policy
        }
        return ScoringPolicy(
            thresholds: TierThresholds(moderate: row["moderate"], high: row["high"], imminent: row["imminent"]))
    }

    /// The client's recovery plan in force at `now`, without its private texts.
    static func plan(client: String, at now: Timestamp, session: some StoreSession) throws -> ClientReport.Plan? {
        let body =
            try session.fetchOne(
                "SELECT body FROM events WHERE client = ? AND kind = 'plan' AND at <= ? ORDER BY at DESC, seq DESC LIMIT 1",
                client, now.microseconds
            ) { $0.text(0) } ?? nil
        guard let checkIn = body.flatMap(CheckInDecoder.stored.decodeStored), let plan = checkIn.plan else {
            return nil
        }
        let consent = plan.caringContacts
        return ClientReport.Plan(
            at: "\(checkIn.at)",
            ageDays: Int((now.microseconds - checkIn.at.microseconds) / TimeSpan.days(1).microseconds),
            triggers: plan.triggers, warningSigns: plan.warningSigns, pathway: plan.pathways.map(\.rawValue),
            support: plan.support.map {
                ClientReport.Plan.Support(
                    role: $0.role.rawValue, ref: $0.ref, channel: $0.channel.rawValue, hours: $0.hours?.description)
            },
            caringContacts: consent.allowsContacts ? consent.channel.rawValue : "none")
    }

    /// The client's latest caring-contact program, with its messages' progress.
    static func program(client: String, session: some StoreSession) throws -> ClientReport.Program? {
        guard
            let row = try session.rows(
                "SELECT number, started_at, stopped_at, stop_reason FROM programs WHERE client = ? ORDER BY number DESC LIMIT 1",
                [client]
            ).first
        else { return nil }
        let number: Int = row["number"]
        let tasks = try session.rows(
            """
            SELECT COUNT(delivered_at) AS sent,
                SUM(CASE WHEN state IN ('pending', 'claimed') AND delivered_at IS NULL THEN 1 ELSE 0 END) AS remaining,
                MIN(CASE WHEN state IN ('pending', 'claimed') THEN deliver_at END) AS next
            FROM tasks WHERE client = ? AND kind = 'caring_contact' AND slot LIKE ?
            """, [client, CaringProgram.slotPattern(number)]
        ).first
        return ClientReport.Program(
            number: number, started: "\(Timestamp(microseconds: row["started_at"]))",
            nextContact: (tasks?["next"] as Int64?).map { "\(Timestamp(microseconds: $0))" },
            sent: tasks?["sent"] ?? 0, remaining: tasks?["remaining"] ?? 0,
            stoppedAt: (row["stopped_at"] as Int64?).map { "\(Timestamp(microseconds: $0))" },
            stopReason: row["stop_reason"])
    }

    static func recentEvents(client: String, limit: Int, session: some StoreSession) throws -> [ClientReport.Event] {
        let rows = try session.rows(
            """
            SELECT e.body, v.fired, v.score, v.tier FROM events e LEFT JOIN evaluations v ON v.event_seq = e.seq
            WHERE e.client = ? ORDER BY e.at DESC, e.seq DESC LIMIT ?
            """, [client, limit])
        return rows.compactMap { row in
            guard let checkIn = CheckInDecoder.stored.decodeStored(row["body"]) else { return nil }
            let fired: String? = row["fired"]
            let score: Double? = row["score"]
            return ClientReport.Event(
                id: checkIn.id, at: "\(checkIn.at)", kind: checkIn.kind.rawValue, source: checkIn.source.rawValue,
                fired: fired.map { $0.split(separator: " ").map(String.init) } ?? [], score: score.map(rounded),
                tier: row["tier"],
                measures: Dictionary(checkIn.measures.map { ($0.name, $0.value) }) { first, _ in first },
                signs: checkIn.signs, stressors: checkIn.stressors, protective: checkIn.protective)
        }
    }

    /// Scores and weights are shown to 1/1000 of a point.
    static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
