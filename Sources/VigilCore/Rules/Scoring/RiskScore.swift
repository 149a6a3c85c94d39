import Glibc  // exp2: math only, no I/O

/// One rule firing that contributes to a client's score.
public struct Firing: Equatable, Sendable {
    public var rule: String
    /// The id of the event that fired it.
    public var event: String
    /// When it fired: the event's observation time.
    public var at: Timestamp
    public var weight: Double
    public var halfLife: TimeSpan
    public var floor: Tier?
    /// The position of its rule's domain in the `ScoringPolicy`.
    public var domain: Int
    /// How long after it fired it is an acute marker (zero: it is none; see `ScoringPolicy`).
    public var acuteFor: TimeSpan
    /// How long after it fired it counts (and holds its floor): four half-lives unless its rule
    /// says otherwise (`active_for:`).
    public var activeFor: TimeSpan

    public init(
        rule: String, event: String, at: Timestamp, weight: Double, halfLife: TimeSpan, floor: Tier? = nil,
        domain: Int = 0, acuteFor: TimeSpan = .seconds(0), activeFor: TimeSpan? = nil
    ) {
        self.rule = rule
        self.event = event
        self.at = at
        self.weight = weight
        self.halfLife = halfLife
        self.floor = floor
        self.domain = domain
        self.acuteFor = acuteFor
        self.activeFor = activeFor ?? Contribution.activeSpan(halfLife: halfLife)
    }

    /// What the firing adds to its client's score, without its names.
    public var contribution: Contribution {
        Contribution(
            at: at, weight: weight, halfLife: halfLife, floor: floor, domain: domain, acuteFor: acuteFor,
            activeFor: activeFor)
    }
}

/// A firing's weight, decay, floor, domain and acuteness: plain values, cheap to keep and sum for
/// every event.
public struct Contribution: Equatable, Sendable {
    public var at: Timestamp
    public var weight: Double
    public var halfLife: TimeSpan
    public var floor: Tier?
    public var domain: Int
    public var acuteFor: TimeSpan
    public var activeFor: TimeSpan

    public init(
        at: Timestamp, weight: Double, halfLife: TimeSpan, floor: Tier?, domain: Int = 0,
        acuteFor: TimeSpan = .seconds(0), activeFor: TimeSpan? = nil
    ) {
        self.at = at
        self.weight = weight
        self.halfLife = halfLife
        self.floor = floor
        self.domain = domain
        self.acuteFor = acuteFor
        self.activeFor = activeFor ?? Self.activeSpan(halfLife: halfLife)
    }

    /// By default a firing counts (and holds its floor) for four half-lives, when its weight has
    /// decayed to 1/16.
    public static let activeHalfLives: Int64 = 4

    /// How long a firing with this half-life counts by default.
    public static func activeSpan(halfLife: TimeSpan) -> TimeSpan {
        TimeSpan(microseconds: activeHalfLives * halfLife.microseconds)
    }

    /// `weight × 0.5^(age / half_life)` at `now`; the full weight for a firing in the future of `now`.
    public func weight(at now: Timestamp) -> Double {
        let age = Double(max(0, now.microseconds - at.microseconds))
        return weight * exp2(-age / Double(halfLife.microseconds))
    }

    public func isActive(at now: Timestamp) -> Bool {
        now.microseconds - at.microseconds < activeFor.microseconds
    }
}

/// One domain's share of a client's risk at an instant.
public struct DomainScore: Equatable, Sendable {
    public var name: String
    public var score: Double
    /// From its thresholds and the floors of its active firings, within its cap (and below
    /// `imminent` without an acute marker when the policy asks for one).
    public var tier: Tier

    public init(name: String, score: Double, tier: Tier) {
        self.name = name
        self.score = score
        self.tier = tier
    }
}

/// A client's score (0–100) and tier at an instant, from its firings: the highest domain tier, and
/// the score of the domain that sets it.
public struct RiskScore: Equatable, Sendable {
    public var score: Double
    public var tier: Tier
    /// Every domain of the policy, in its order.
    public var domains: [DomainScore]
    /// Whether an acute marker was active.
    public var acute: Bool
    /// Set when `tier` is the tier an episode reached, held above what the score alone says until then.
    public var heldUntil: Timestamp?

    public init(score: Double, tier: Tier, domains: [DomainScore] = [], acute: Bool = false) {
        self.score = score
        self.tier = tier
        self.domains = domains
        self.acute = acute
    }

    /// Combines the domains' sums and floors under `policy` (see `ScoringPolicy`).
    init(sums: [Double], floors: [Tier], acute: Bool, policy: ScoringPolicy) {
        var domains: [DomainScore] = []
        domains.reserveCapacity(policy.domains.count)
        var top = (tier: Tier.low, score: 0.0)
        for (index, domain) in policy.domains.enumerated() {
            let score = min(100, max(0, sums[index]))
            var tier = min(domain.cap, max(domain.thresholds.tier(for: score), floors[index]))
            if tier == .imminent, policy.imminentRequiresAcute, !acute { tier = .high }
            domains.append(DomainScore(name: domain.name, score: score, tier: tier))
            if (tier, score) > top { top = (tier, score) }
        }
        self.init(score: top.score, tier: top.tier, domains: domains, acute: acute)
    }

    /// Sum of the decayed weights of the contributions observed no later than `now` that are active
    /// then, per domain, clamped to 0–100; each domain's tier from its thresholds, raised to the
    /// highest floor of an active firing. Summed as `ScoreLedger` sums (exactly, whatever the order of
    /// the contributions, so a client's state rebuilt from the store after a restart scores exactly as
    /// before).
    public init(contributions: some Sequence<Contribution>, at now: Timestamp, policy: ScoringPolicy) {
        var ledger = ScoreLedger()
        for contribution in contributions { ledger.add(contribution) }
        self = ledger.score(at: now, policy: policy)
    }

    /// The domain called `name`, if the policy declares it.
    public func domain(_ name: String) -> DomainScore? { domains.first { $0.name == name } }
}
