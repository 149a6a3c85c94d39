/// A risk domain as `policy.yaml` declares it (`suicide`, `overdose`, …): its firings sum into a
/// score of their own, read against its thresholds, and its tier never exceeds its cap. So the signs
/// of unrelated risks never add up to a tier none of them reaches alone.
public struct RiskDomain: Equatable, Sendable, Codable {
    public var name: String
    public var thresholds: TierThresholds
    /// The highest tier this domain sets on its own (`return_to_use` stops at `high` by default).
    public var cap: Tier

    public init(name: String, thresholds: TierThresholds, cap: Tier = .imminent) {
        self.name = name
        self.thresholds = thresholds
        self.cap = cap
    }
}

/// How firings become a client's tier (`policy.yaml`): the domains, whether the top tier needs an
/// acute marker, and how long a tier, once reached, holds before decay may lower it.
public struct ScoringPolicy: Equatable, Sendable, Codable {
    /// Never empty: a policy that declares no domain has one, `risk`, with the policy's thresholds.
    public private(set) var domains: [RiskDomain]
    /// When true, `imminent` needs an active acute marker (a firing of a rule declared `acute`);
    /// without one every domain stops at `high`.
    public var imminentRequiresAcute: Bool
    /// How long the tier an episode reached holds, from the observation that reached it.
    public var hold: TimeSpan
    /// By how much (a fraction) the step-down watch lowers every threshold (nil: no watch; see
    /// `WatchPolicy`, which says how long it lasts).
    public var watchLowering: Double?

    /// The single domain of a policy that declares none.
    public static let implicitDomain = "risk"

    public init(
        thresholds: TierThresholds, domains: [RiskDomain] = [], imminentRequiresAcute: Bool = false,
        hold: TimeSpan = .seconds(0)
    ) {
        self.domains = domains.isEmpty ? [RiskDomain(name: Self.implicitDomain, thresholds: thresholds)] : domains
        self.imminentRequiresAcute = imminentRequiresAcute
        self.hold = hold
    }

    /// The position of the domain called `name` (what firings carry), if declared.
    public func index(of name: String) -> Int? { domains.firstIndex { $0.name == name } }

    /// The names, in declaration order.
    public var names: [String] { domains.map(\.name) }
}

extension ScoringPolicy {
    /// The policy with every domain's thresholds lowered by `fraction` (the step-down watch).
    public func lowered(by fraction: Double) -> ScoringPolicy {
        var lowered = self
        lowered.domains = domains.map { domain in
            var domain = domain
            let scale = 1 - fraction
            domain.thresholds = TierThresholds(
                moderate: domain.thresholds.moderate * scale, high: domain.thresholds.high * scale,
                imminent: domain.thresholds.imminent * scale)
            return domain
        }
        return lowered
    }
}

extension Tier: Codable {}

/// A span is written as its microseconds.
extension TimeSpan: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(microseconds: try decoder.singleValueContainer().decode(Int64.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(microseconds)
    }
}
