/// Why a task was enqueued: one rule with firings active when the tier rose (a rule that fired
/// on several events is one reason, with its count and latest firing). Stored with the task and
/// published in its payload as `{"at", "count", "event", "rule", "summary"}` (`event` null for an
/// absence).
public struct TaskReason: Equatable, Sendable, Codable {
    public var rule: String
    public var summary: String
    /// The latest event that fired it (nil for an absence).
    public var event: String?
    /// When it last fired.
    public var at: Timestamp
    /// How many of its firings were active.
    public var count: Int

    public init(rule: String, summary: String, event: String?, at: Timestamp, count: Int) {
        self.rule = rule
        self.summary = summary
        self.event = event
        self.at = at
        self.count = count
    }

    /// The reasons of the firings active at `at`, one per rule, most recent first.
    public static func of(_ firings: [Firing], ruleSet: RuleSet) -> [TaskReason] {
        var byRule: [String: TaskReason] = [:]
        for firing in firings {
            if var reason = byRule[firing.rule] {
                reason.count += 1
                if firing.at >= reason.at {
                    reason.at = firing.at
                    reason.event = firing.event.isEmpty ? nil : firing.event
                }
                byRule[firing.rule] = reason
            } else {
                byRule[firing.rule] = TaskReason(
                    rule: firing.rule, summary: ruleSet.summary(of: firing.rule),
                    event: firing.event.isEmpty ? nil : firing.event, at: firing.at, count: 1)
            }
        }
        return byRule.values.sorted { ($0.at, $1.rule) > ($1.at, $0.rule) }
    }

    enum CodingKeys: String, CodingKey { case rule, summary, event, at, count }

    /// Writes `event` as null when absent (the documented shape), rather than leaving it out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encode(summary, forKey: .summary)
        try container.encode(event, forKey: .event)
        try container.encode(at, forKey: .at)
        try container.encode(count, forKey: .count)
    }
}
