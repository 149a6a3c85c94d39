/// One line of a tier's response plan: a kind of task, when it is due, the route that carries it,
/// and what the person who acts should do.
public struct TaskTemplate: Equatable, Sendable {
    public var kind: TaskKind
    public var schedule: TaskSchedule
    /// The route name the notifier's `routes:` match on (for example `mobile-crisis`).
    public var route: String
    public var instruction: String

    public init(kind: TaskKind, schedule: TaskSchedule, route: String, instruction: String) {
        self.kind = kind
        self.schedule = schedule
        self.route = route
        self.instruction = instruction
    }
}

/// What makes two planned tasks the same job for a client: their kind, the route (role) that
/// carries them, and when they are due after the rise (their due slot: `now` at once, `within 8h`
/// and `at 8h` 8 hours later, a daily series each day). Escalations leave the route out: a client has
/// one escalation, the most urgent. A client has at most one open task per key: a higher tier's
/// task supersedes a lower one's with the same key instead of stacking beside it, and when several
/// domains are elevated their plans merge into one task per key.
///
/// The key is written into the task's slot (`TIER.KIND.OFFSET`, then `.ROUTE` unless an
/// escalation: `high.follow_up.24h.counselor`), so it is read back from the store without another
/// column. A slot written before routes joined the key has none, and matches every route.
public struct PlanKey: Hashable, Sendable, CustomStringConvertible {
    public var kind: TaskKind
    /// The due offset from the moment the rise was detected.
    public var offset: TimeSpan
    /// Nil for an escalation, and for a slot written before routes joined the key.
    public var route: String?

    public init(kind: TaskKind, offset: TimeSpan, route: String?) {
        self.kind = kind
        self.offset = offset
        self.route = kind == .escalation ? nil : route
    }

    public var description: String { "\(kind.rawValue).\(offset.compact)" + (route.map { ".\($0)" } ?? "") }

    /// The slot of the task planned from `tier`'s plan under this key.
    public func slot(tier: Tier) -> String { "\(tier.rawValue).\(self)" }

    /// Whether an open task under this key is the same job as a line under `other`.
    public func isSameJob(as other: PlanKey) -> Bool {
        kind == other.kind && offset == other.offset && (route == nil || other.route == nil || route == other.route)
    }

    /// The tier and key of a planned task's slot; nil for any other slot (a fallback, an overdue
    /// task, a refused crisis, or a slot written before keys existed).
    public static func parse(slot: String) -> (tier: Tier, key: PlanKey)? {
        let parts = slot.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, let tier = Tier(rawValue: String(parts[0])),
            let kind = TaskKind(rawValue: String(parts[1])), let offset = TimeSpan(text: String(parts[2]))
        else { return nil }
        return (tier, PlanKey(kind: kind, offset: offset, route: parts.count == 4 ? String(parts[3]) : nil))
    }
}

/// The response plans of `policy.yaml`: for each tier, the tasks a rise to it calls for, and for a
/// risk domain the tiers it plans differently (a domain's plan for a tier replaces the common one).
public struct ResponsePlans: Equatable, Sendable {
    public var plans: [Tier: [TaskTemplate]]
    public var domainPlans: [String: [Tier: [TaskTemplate]]]
    /// The task two disagreeing screenings within a day get (`reconcile:`; nil: none).
    public var reconcile: TaskTemplate?
    /// The caring-contact program, follow-up endings, step-down watch and plan review.
    public var aftercare: Aftercare

    public init(
        _ plans: [Tier: [TaskTemplate]] = [:], domains: [String: [Tier: [TaskTemplate]]] = [:],
        reconcile: TaskTemplate? = nil, aftercare: Aftercare = Aftercare()
    ) {
        self.plans = plans
        self.domainPlans = domains
        self.reconcile = reconcile
        self.aftercare = aftercare
    }

    /// One task of a plan: its key, the domain and tier whose plan wrote it, the template and the
    /// occurrence.
    public struct Line: Sendable {
        public var key: PlanKey
        public var domain: String
        public var tier: Tier
        public var template: TaskTemplate
        public var occurrence: TaskSchedule.Occurrence

        /// `TIER.KIND.OFFSET[.ROUTE]`: the same task however often the plan is replayed, which is
        /// what makes task ids deterministic.
        public var slot: String { key.slot(tier: tier) }
    }

    /// What a client whose domains reached `tiers` should have: for each domain, every line of its
    /// plans of its tier and the tiers below, merged into one line per key, where a higher tier's
    /// line wins (then the domain listed first). So the tasks a client ends with depend on the tiers
    /// it reached, not on the steps it took to get there. In key order (due offset, then kind as
    /// `TaskKind` lists them: escalations first, then route).
    public func lines(for tiers: [(domain: String, tier: Tier)]) -> [Line] {
        var byKey: [PlanKey: Line] = [:]
        for (domain, reached) in tiers {
            for tier in Tier.allCases where tier <= reached {
                for line in lines(of: tier, domain: domain) {
                    if let kept = byKey[line.key], kept.tier >= line.tier { continue }
                    byKey[line.key] = line
                }
            }
        }
        return byKey.values.sorted {
            ($0.key.offset, $0.key.kind.order, $0.key.route ?? "") < (
                $1.key.offset, $1.key.kind.order, $1.key.route ?? ""
            )
        }
    }

    /// What a client at `tier` in a policy without domains should have (see `lines(for:)`).
    public func lines(upTo tier: Tier) -> [Line] { lines(for: [(ScoringPolicy.implicitDomain, tier)]) }

    /// The lines of `domain`'s plan for `tier` (its own, else the common one), in the order written
    /// (a daily series day by day).
    public func lines(of tier: Tier, domain: String) -> [Line] {
        (domainPlans[domain]?[tier] ?? plans[tier] ?? []).flatMap { template in
            template.schedule.occurrences.map { occurrence in
                Line(
                    key: PlanKey(kind: template.kind, offset: occurrence.due, route: template.route),
                    domain: domain, tier: tier, template: template, occurrence: occurrence)
            }
        }
    }

    /// The keys that two lines of one plan share (a plan may not ask for the same job twice), with
    /// where: the tier, and the domain for a domain's own plan.
    public var repeatedKeys: [(domain: String?, tier: Tier, key: PlanKey)] {
        let owners: [(String?, [Tier: [TaskTemplate]])] = [(nil, plans)] + domainPlans.sorted { $0.key < $1.key }
        return owners.flatMap { domain, plans in
            Tier.allCases.flatMap { tier in
                var seen: Set<PlanKey> = []
                let lines = ResponsePlans(plans).lines(of: tier, domain: "")
                return lines.compactMap { line in seen.insert(line.key).inserted ? nil : (domain, tier, line.key) }
            }
        }
    }
}

extension TaskKind {
    /// Its position in `allCases`: the order plans list kinds at the same offset.
    var order: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}
