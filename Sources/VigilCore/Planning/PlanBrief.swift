/// The minimum of the client's recovery plan a task carries (HIPAA's minimum necessary): whether a
/// plan exists and how old it is, the pathways, and the support entries that fit the task's role and
/// its delivery hour (`role`, `ref`, `channel`). Never `coping`, `crisis_steps` or a note.
public struct PlanBrief: Equatable, Sendable, Codable {
    /// Whole days from the plan's observation to the task's delivery.
    public var ageDays: Int
    public var pathway: [String]
    public var support: [Support]

    /// One support entry as a task carries it (its hours only decided whether it is there).
    public struct Support: Equatable, Sendable, Codable {
        public var role: String
        public var ref: String
        public var channel: String
    }

    enum CodingKeys: String, CodingKey {
        case ageDays = "age_days"
        case pathway, support
    }

    /// What a task of `kind` routed to `route`, delivered at `deliverAt`, carries of `plan`
    /// (observed at `planAt`); support hours are read at `utcOffset` from UTC.
    public init(
        _ plan: RecoveryPlan, observedAt planAt: Timestamp, kind: TaskKind, route: String, deliverAt: Timestamp,
        utcOffset: TimeSpan
    ) {
        ageDays = Int(max(0, deliverAt.microseconds - planAt.microseconds) / TimeSpan.days(1).microseconds)
        pathway = plan.pathways.map(\.rawValue)
        let local = deliverAt.microseconds + utcOffset.microseconds
        let day = TimeSpan.days(1).microseconds
        let minute = Int((((local % day) + day) % day) / 60_000_000)
        let roles = Self.roles(for: kind, route: route)
        support = plan.support.compactMap { entry in
            guard roles.map({ $0.contains(entry.role) }) ?? true,
                entry.hours.map({ $0.contains(minuteOfDay: minute) }) ?? true
            else { return nil }
            return Support(role: entry.role.rawValue, ref: entry.ref, channel: entry.channel.rawValue)
        }
    }

    /// The support roles that fit a task: an escalation, or a task for the supervisors or the crisis
    /// clinician, gets everyone the client named (reachable at the hour); a peer's task the client's
    /// peers, sponsor, friends and family; a counselor's their clinicians and family; a case manager's
    /// their case manager, prescriber and family. Nil: every role.
    static func roles(for kind: TaskKind, route: String) -> Set<RecoveryPlan.SupportEntry.Role>? {
        if kind == .escalation { return nil }
        switch route {
        case "peer": return [.peer, .sponsor, .friend, .family]
        case "counselor": return [.counselor, .clinician, .prescriber, .family]
        case "case_manager": return [.caseManager, .prescriber, .family]
        default: return nil
        }
    }
}
