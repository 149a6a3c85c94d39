/// A client's risk tier, lowest first. Everything downstream (tasks, alerts, the journal) acts on it.
public enum Tier: String, CaseIterable, Comparable, Sendable {
    case low, moderate, high, imminent

    public static func < (lhs: Tier, rhs: Tier) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}

/// The score thresholds of each tier (`Rules/policy.yaml`): a score at or above `moderate` is moderate, …
public struct TierThresholds: Equatable, Sendable, Codable {
    public var moderate: Double
    public var high: Double
    public var imminent: Double

    public init(moderate: Double, high: Double, imminent: Double) {
        self.moderate = moderate
        self.high = high
        self.imminent = imminent
    }

    public func tier(for score: Double) -> Tier {
        if score >= imminent { return .imminent }
        if score >= high { return .high }
        if score >= moderate { return .moderate }
        return .low
    }
}
