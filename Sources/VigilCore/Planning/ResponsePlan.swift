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

/// What makes two planned tasks the same job for a client: their kind and when they are delivered
/// after the rise (`now` and `within` deliver at once, `at 24h` a day later, a daily series on each
/// day). A client has at most one open task per key: a higher tier's task supersedes a lower one's
/// with the same key instead of stacking beside it.
///
/// The key is written into the task's slot (`TIER.KIND.OFFSET`, e.g. `high.follow_up.24h`), so it
/// is read back from the store without another column; a risk domain can join it as a prefix.
public struct PlanKey: Hashable, Sendable, CustomStringConvertible {
    public var kind: TaskKind
    /// The delivery offset from the moment the rise was detected.
    public var offset: TimeSpan

    public init(kind: TaskKind, offset: TimeSpan) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String { "\(kind.rawValue).\(offset.compact)" }

    /// The slot of the task planned from `tier`'s plan under this key.
    public func slot(tier: Tier) -> String { "\(tier.rawValue).\(self)" }

    /// The tier and key of a planned task's slot; nil for any other slot (a fallback, an overdue
    /// task, a refused crisis, or a slot written before keys existed).
    public static func parse(slot: String) -> (tier: Tier, key: PlanKey)? {
        let parts = slot.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let tier = Tier(rawValue: String(parts[0])),
            let kind = TaskKind(rawValue: String(parts[1])), let offset = TimeSpan(text: String(parts[2]))
        else { return nil }
        return (tier, PlanKey(kind: kind, offset: offset))
    }
}

/// The response plans of `policy.yaml`: for each tier, the tasks a rise to it calls for.
public struct ResponsePlans: Equatable, Sendable {
    public var plans: [Tier: [TaskTemplate]]

    public init(_ plans: [Tier: [TaskTemplate]] = [:]) { self.plans = plans }

    /// One task of a plan: its key, the tier whose plan wrote it, the template and the occurrence.
    public struct Line: Sendable {
        public var key: PlanKey
        public var tier: Tier
        public var template: TaskTemplate
        public var occurrence: TaskSchedule.Occurrence

        /// `TIER.KIND.OFFSET`: the same task however often the plan is replayed, which is what
        /// makes task ids deterministic.
        public var slot: String { key.slot(tier: tier) }
    }

    /// What a client at `tier` should have: every line of the plans of `tier` and the tiers below
    /// it, where a higher tier's line replaces a lower one's with the same key. So the tasks a
    /// client ends with depend on the tier it reached, not on the steps it took to get there.
    /// In key order (delivery offset, then kind as `TaskKind` lists them: escalations first).
    public func lines(upTo tier: Tier) -> [Line] {
        var byKey: [PlanKey: Line] = [:]
        for planTier in Tier.allCases where planTier <= tier {
            for line in lines(of: planTier) { byKey[line.key] = line }
        }
        return byKey.values.sorted { ($0.key.offset, $0.key.kind.order) < ($1.key.offset, $1.key.kind.order) }
    }

    /// The lines of `tier`'s own plan, in the order written (a daily series day by day).
    public func lines(of tier: Tier) -> [Line] {
        (plans[tier] ?? []).flatMap { template in
            template.schedule.occurrences.map { occurrence in
                Line(
                    key: PlanKey(kind: template.kind, offset: occurrence.deliver), tier: tier, template: template,
                    occurrence: occurrence)
            }
        }
    }

    /// The keys that two lines of one tier's plan share (a plan may not ask for the same job twice),
    /// with the tier, for the policy's validation.
    public var repeatedKeys: [(tier: Tier, key: PlanKey)] {
        Tier.allCases.flatMap { tier in
            var seen: Set<PlanKey> = []
            return lines(of: tier).compactMap { line in seen.insert(line.key).inserted ? nil : (tier, line.key) }
        }
    }
}

extension TaskKind {
    /// Its position in `allCases`: the order plans list kinds at the same offset.
    var order: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}
