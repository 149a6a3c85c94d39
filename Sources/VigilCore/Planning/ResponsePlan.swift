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

/// The response plans of `policy.yaml`: for each tier, the tasks a rise to it calls for.
public struct ResponsePlans: Equatable, Sendable {
    public var plans: [Tier: [TaskTemplate]]

    public init(_ plans: [Tier: [TaskTemplate]] = [:]) { self.plans = plans }

    /// The tasks a rise to `tier` calls for, each with its slot: `TIER.LINE` for a single occurrence,
    /// `TIER.LINE.N` for the Nth of a daily series (lines count from 1). A slot names the same task
    /// however often the plan is replayed, which is what makes task ids deterministic.
    public func tasks(for tier: Tier) -> [(slot: String, template: TaskTemplate, occurrence: TaskSchedule.Occurrence)] {
        guard let templates = plans[tier] else { return [] }
        var result: [(String, TaskTemplate, TaskSchedule.Occurrence)] = []
        for (line, template) in templates.enumerated() {
            let occurrences = template.schedule.occurrences
            for (index, occurrence) in occurrences.enumerated() {
                var slot = "\(tier.rawValue).\(line + 1)"
                if case .daily = template.schedule { slot += ".\(index + 1)" }
                result.append((slot, template, occurrence))
            }
        }
        return result
    }
}
