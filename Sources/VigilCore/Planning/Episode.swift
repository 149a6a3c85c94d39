/// A client's run of elevated risk: opened when its tier first rises above `low`, raised when a
/// domain's tier rises above what was planned for it, closed when the client's tier is back to `low`
/// (the reached tier holds for the policy's `hold` after the last rise). While it is open, further
/// firings at or below its tiers add no tasks, so a crisis team is never paged twice for the same rise.
public struct Episode: Equatable, Sendable {
    /// 1 for the client's first episode, then 2, … (part of every task id).
    public var number: Int
    /// The highest tier planned for so far.
    public var tier: Tier
    public var openedAt: Timestamp
    /// Until when its tier holds whatever the decay: the policy's hold after the observation of the
    /// latest rise, or earlier when a new screening result released it.
    public var heldUntil: Timestamp
    /// The highest tier planned for so far in each domain above `low`.
    public var domains: [String: Tier]
    /// Set when it closed at `high` or above: until when the client is on the step-down watch.
    public var watchUntil: Timestamp?

    public init(
        number: Int, tier: Tier, openedAt: Timestamp, heldUntil: Timestamp? = nil, domains: [String: Tier] = [:]
    ) {
        self.number = number
        self.tier = tier
        self.openedAt = openedAt
        self.heldUntil = heldUntil ?? openedAt
        self.domains = domains
    }

    /// Takes in the domain tiers of `score`, observed at `at`; true when one of them rose above what
    /// was planned for it (then the episode's tier follows, and holds for `hold` from `at`).
    mutating func absorb(_ score: RiskScore, at: Timestamp, hold: TimeSpan) -> Bool {
        var rose = false
        for domain in score.domains where domain.tier > (domains[domain.name] ?? .low) {
            domains[domain.name] = domain.tier
            rose = true
        }
        if score.tier > tier {
            tier = score.tier
            rose = true
        }
        if rose { heldUntil = max(heldUntil, at.adding(hold)) }
        return rose
    }

    /// The domains planned for and their tiers, in the policy's order.
    func planned(in policy: ScoringPolicy) -> [(domain: String, tier: Tier)] {
        policy.names.compactMap { name in domains[name].map { (name, $0) } }
    }

    /// As stored: `suicide=high overdose=moderate`, in name order.
    public var domainsText: String {
        domains.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.rawValue)" }.joined(separator: " ")
    }

    /// Reads `domainsText` back (unknown tiers are left out).
    public static func domains(from text: String) -> [String: Tier] {
        var domains: [String: Tier] = [:]
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let tier = Tier(rawValue: String(parts[1])) { domains[String(parts[0])] = tier }
        }
        return domains
    }
}

extension ScoringPolicy {
    /// `score` with its tier held at `episode`'s until the episode's hold ends.
    public func held(_ score: RiskScore, episode: Episode?, at now: Timestamp) -> RiskScore {
        guard let open = episode, open.tier > score.tier, now < open.heldUntil else { return score }
        var held = score
        held.tier = open.tier
        held.heldUntil = open.heldUntil
        return held
    }
}

/// A task decided by the planner, with its deterministic id.
public struct PlannedTask: Equatable, Sendable {
    public var id: String
    public var client: String
    public var episode: Int
    public var slot: String
    public var kind: TaskKind
    public var tier: Tier
    public var route: String
    public var instruction: String
    public var deliverAt: Timestamp
    public var due: Timestamp
    /// What it carries of the client's recovery plan (nil: the client has none).
    public var plan: PlanBrief?
    /// The risk domain whose plan wrote it (nil: not a domain's plan: the caring-contact program, a
    /// plan review, a reconcile or unreachable task). Not stored; replay counts the load by it.
    public var domain: String?

    /// A task whose id is derived from its client, episode and slot.
    public init(
        client: String, episode: Int, slot: String, kind: TaskKind, tier: Tier, route: String, instruction: String,
        deliverAt: Timestamp, due: Timestamp
    ) {
        self.id = Self.id(client: client, episode: episode, slot: slot)
        self.client = client
        self.episode = episode
        self.slot = slot
        self.kind = kind
        self.tier = tier
        self.route = route
        self.instruction = instruction
        self.deliverAt = deliverAt
        self.due = due
    }

    /// `t-` and 16 hex digits of SHA-256 over (client, episode, slot): the same task always gets
    /// the same id, so a replay or a restart can never enqueue it twice under another name.
    public static func id(client: String, episode: Int, slot: String) -> String {
        "t-" + sha256Hex(Array("\(client)\u{0}\(episode)\u{0}\(slot)".utf8)).prefix(16)
    }
}

/// A client's episode state between evaluations: the open episode, if any, the last number used,
/// and the ids of the tasks the open episode has planned (so a task resolved or cancelled is never
/// planned again while the episode lasts).
public struct EpisodeCursor: Equatable, Sendable {
    public var open: Episode?
    public var lastNumber: Int
    public var planned: Set<String>
    /// Until when the client is on the step-down watch (an episode at `high` or above closed).
    public var watchUntil: Timestamp?

    public init(open: Episode? = nil, lastNumber: Int = 0, planned: Set<String> = [], watchUntil: Timestamp? = nil) {
        self.open = open
        self.lastNumber = lastNumber
        self.planned = planned
        self.watchUntil = watchUntil
    }
}
