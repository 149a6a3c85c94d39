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

    public init(rule: String, event: String, at: Timestamp, weight: Double, halfLife: TimeSpan, floor: Tier? = nil) {
        self.rule = rule
        self.event = event
        self.at = at
        self.weight = weight
        self.halfLife = halfLife
        self.floor = floor
    }

    /// What the firing adds to its client's score, without its names.
    public var contribution: Contribution {
        Contribution(at: at, weight: weight, halfLife: halfLife, floor: floor)
    }
}

/// A firing's weight, decay and floor: plain values, cheap to keep and sum for every event.
public struct Contribution: Equatable, Sendable {
    public var at: Timestamp
    public var weight: Double
    public var halfLife: TimeSpan
    public var floor: Tier?

    public init(at: Timestamp, weight: Double, halfLife: TimeSpan, floor: Tier?) {
        self.at = at
        self.weight = weight
        self.halfLife = halfLife
        self.floor = floor
    }

    /// A firing counts (and holds its floor) for four half-lives, when its weight has decayed to 1/16.
    public static let activeHalfLives = 4.0

    /// `weight × 0.5^(age / half_life)` at `now`; the full weight for a firing in the future of `now`.
    public func weight(at now: Timestamp) -> Double {
        let age = Double(max(0, now.microseconds - at.microseconds))
        return weight * exp2(-age / Double(halfLife.microseconds))
    }

    public func isActive(at now: Timestamp) -> Bool {
        Double(now.microseconds - at.microseconds) < Self.activeHalfLives * Double(halfLife.microseconds)
    }
}

/// A client's score (0–100) and tier at an instant, from its firings.
public struct RiskScore: Equatable, Sendable {
    public var score: Double
    public var tier: Tier

    public init(score: Double, tier: Tier) {
        self.score = score
        self.tier = tier
    }

    /// Sum of the decayed weights of the contributions observed no later than `now` that are active
    /// then, clamped to 0–100; the tier from the thresholds, raised to the highest floor of an active
    /// firing. Summed as `ScoreLedger` sums (exactly, whatever the order of the contributions, so a
    /// client's state rebuilt from the store after a restart scores exactly as before).
    public init(contributions: some Sequence<Contribution>, at now: Timestamp, thresholds: TierThresholds) {
        var ledger = ScoreLedger()
        for contribution in contributions { ledger.add(contribution) }
        self = ledger.score(at: now, thresholds: thresholds)
    }
}
